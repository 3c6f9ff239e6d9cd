"""Every RPC of rivetq.v1.RivetQ against a running server."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest

from rivetq.server.grpc._pb import rivetq_pb2 as pb
from rivetq.server.grpc.errors import ERROR_CODE_KEY, ERROR_FIELD_KEY
from tests.e2e.server import RunningServer

Stub = Any  # the generated stub carries no annotations


def _queue() -> str:
    return f"q-{uuid.uuid4().hex[:12]}"


async def _rpc_error(call: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    trailers = dict(caught.value.trailing_metadata() or ())
    return caught.value.code(), str(trailers.get(ERROR_CODE_KEY))


async def _lease_one(stub: Stub, queue: str, **fields: Any) -> pb.Job:
    response = await stub.Lease(pb.LeaseRequest(queue=queue, **fields))
    assert len(response.jobs) == 1
    job: pb.Job = response.jobs[0]
    return job


async def test_enqueue_then_get_job_keeps_payload_bytes_and_defaults(stub: Stub) -> None:
    queue = _queue()
    payload = b'{"to": "ada@example.com",  "n": [1, 2.50, "\\u00e9"]}'
    enqueued = await stub.Enqueue(pb.EnqueueRequest(queue=queue, payload=payload))
    assert not enqueued.duplicate
    job = (await stub.GetJob(pb.GetJobRequest(job_id=enqueued.job_id))).job
    assert (job.id, job.queue, job.payload) == (enqueued.job_id, queue, payload)
    assert (job.priority, job.max_retries, job.tries, job.state) == (5, 3, 0, pb.JOB_STATE_READY)
    assert not job.HasField("lease_id")


async def test_enqueue_with_delay_and_idempotency_key(stub: Stub) -> None:
    queue = _queue()
    request = pb.EnqueueRequest(queue=queue, payload=b"1", delay_ms=60_000, idempotency_key="k1", max_retries=0)
    first = await stub.Enqueue(request)
    second = await stub.Enqueue(request)
    assert (second.job_id, second.duplicate) == (first.job_id, True)
    job = (await stub.GetJob(pb.GetJobRequest(job_id=first.job_id))).job
    assert (job.state, job.idempotency_key, job.max_retries) == (pb.JOB_STATE_DELAYED, "k1", 0)
    assert job.eta_ms >= job.created_at_ms + 60_000
    assert (await stub.Lease(pb.LeaseRequest(queue=queue))).jobs == []


async def test_enqueue_batch_then_lease_in_priority_order(stub: Stub) -> None:
    queue = _queue()
    jobs = [pb.EnqueueRequest(payload=f'"{n}"'.encode(), priority=n) for n in (1, 9, 5)]
    ids = (await stub.EnqueueBatch(pb.EnqueueBatchRequest(queue=queue, jobs=jobs))).job_ids
    assert len(ids) == 3
    leased = (await stub.Lease(pb.LeaseRequest(queue=queue, max_jobs=10, visibility_ms=5_000))).jobs
    assert [job.payload for job in leased] == [b'"9"', b'"5"', b'"1"']
    for job in leased:
        assert job.state == pb.JOB_STATE_INFLIGHT
        assert job.lease_id and job.lease_expires_at_ms > job.created_at_ms


async def test_enqueue_batch_with_a_bad_job_creates_nothing(stub: Stub) -> None:
    queue = _queue()
    jobs = [pb.EnqueueRequest(payload=b"1"), pb.EnqueueRequest(payload=b"{nope")]
    code, error_code = await _rpc_error(stub.EnqueueBatch(pb.EnqueueBatchRequest(queue=queue, jobs=jobs)))
    assert (code, error_code) == (grpc.StatusCode.INVALID_ARGUMENT, "invalid_argument")
    assert queue not in {q.name for q in (await stub.ListQueues(pb.ListQueuesRequest())).queues}


async def test_lease_long_polls_until_a_job_arrives(stub: Stub) -> None:
    queue = _queue()
    poll = stub.Lease(pb.LeaseRequest(queue=queue, wait_ms=10_000))
    await stub.Enqueue(pb.EnqueueRequest(queue=queue, payload=b"7"))
    assert [job.payload for job in (await poll).jobs] == [b"7"]


async def test_ack_removes_the_job_and_a_second_ack_is_not_found(stub: Stub) -> None:
    queue = _queue()
    await stub.Enqueue(pb.EnqueueRequest(queue=queue, payload=b"1"))
    job = await _lease_one(stub, queue)
    await stub.Ack(pb.AckRequest(job_id=job.id, lease_id=job.lease_id))
    assert await _rpc_error(stub.Ack(pb.AckRequest(job_id=job.id, lease_id=job.lease_id))) == (
        grpc.StatusCode.NOT_FOUND,
        "job_not_found",
    )
    assert await _rpc_error(stub.GetJob(pb.GetJobRequest(job_id=job.id))) == (
        grpc.StatusCode.NOT_FOUND,
        "job_not_found",
    )


async def test_ack_batch_reports_each_ack(stub: Stub) -> None:
    queue = _queue()
    await stub.EnqueueBatch(pb.EnqueueBatchRequest(queue=queue, jobs=[pb.EnqueueRequest(payload=b"1")] * 2))
    first, second = (await stub.Lease(pb.LeaseRequest(queue=queue, max_jobs=2))).jobs
    acks = [pb.AckItem(job_id=first.id, lease_id=first.lease_id), pb.AckItem(job_id=second.id, lease_id="wrong")]
    results = (await stub.AckBatch(pb.AckBatchRequest(acks=acks))).results
    assert [(r.job_id, r.ok) for r in results] == [(first.id, True), (second.id, False)]
    assert results[1].error_code == "lease_lost" and results[1].error
    assert not results[0].HasField("error")


async def test_nack_retries_then_buries_and_dlq_requeues(stub: Stub) -> None:
    queue = _queue()
    job_id = (await stub.Enqueue(pb.EnqueueRequest(queue=queue, payload=b"1", max_retries=1))).job_id
    job = await _lease_one(stub, queue)
    nacked = await stub.Nack(pb.NackRequest(job_id=job_id, lease_id=job.lease_id, reason="boom", delay_ms=0))
    assert nacked.state == pb.JOB_STATE_READY
    job = await _lease_one(stub, queue)
    assert job.tries == 1
    nacked = await stub.Nack(pb.NackRequest(job_id=job_id, lease_id=job.lease_id, reason="boom again"))
    assert nacked.state == pb.JOB_STATE_DEAD
    dead = (await stub.ListDLQ(pb.ListDLQRequest(queue=queue))).jobs
    assert [(j.id, j.state, j.last_error) for j in dead] == [(job_id, pb.JOB_STATE_DEAD, "boom again")]
    assert (await stub.RequeueDLQ(pb.RequeueDLQRequest(queue=queue, job_ids=[job_id]))).requeued == 1
    job = await _lease_one(stub, queue)
    assert (job.id, job.tries) == (job_id, 0)
    await stub.Nack(pb.NackRequest(job_id=job_id, lease_id=job.lease_id, delay_ms=0))
    assert (await stub.PurgeDLQ(pb.PurgeDLQRequest(queue=queue))).purged == 0  # tries reset: one retry left


async def test_requeue_dlq_all_and_purge_dlq(stub: Stub) -> None:
    queue = _queue()
    jobs = [pb.EnqueueRequest(payload=b"1", max_retries=0)] * 3
    await stub.EnqueueBatch(pb.EnqueueBatchRequest(queue=queue, jobs=jobs))
    for job in (await stub.Lease(pb.LeaseRequest(queue=queue, max_jobs=3))).jobs:
        await stub.Nack(pb.NackRequest(job_id=job.id, lease_id=job.lease_id))
    assert (await stub.RequeueDLQ(pb.RequeueDLQRequest(queue=queue, all=True))).requeued == 3
    for job in (await stub.Lease(pb.LeaseRequest(queue=queue, max_jobs=3))).jobs:
        await stub.Nack(pb.NackRequest(job_id=job.id, lease_id=job.lease_id))
    assert (await stub.PurgeDLQ(pb.PurgeDLQRequest(queue=queue))).purged == 3
    assert (await stub.RequeueDLQ(pb.RequeueDLQRequest(queue=queue, all=True))).requeued == 0
    code, _ = await _rpc_error(stub.RequeueDLQ(pb.RequeueDLQRequest(queue=queue, all=True, job_ids=["x"])))
    assert code == grpc.StatusCode.INVALID_ARGUMENT


async def test_extend_moves_the_lease_expiry(stub: Stub) -> None:
    queue = _queue()
    await stub.Enqueue(pb.EnqueueRequest(queue=queue, payload=b"1"))
    job = await _lease_one(stub, queue, visibility_ms=1_000)
    extended = await stub.Extend(pb.ExtendRequest(job_id=job.id, lease_id=job.lease_id, visibility_ms=600_000))
    assert extended.lease_expires_at_ms >= job.lease_expires_at_ms + 599_000
    seen = (await stub.GetJob(pb.GetJobRequest(job_id=job.id))).job
    assert seen.lease_expires_at_ms == extended.lease_expires_at_ms


async def test_cancel_job_deletes_a_waiting_job_but_not_an_inflight_one(stub: Stub) -> None:
    queue = _queue()
    waiting = (await stub.Enqueue(pb.EnqueueRequest(queue=queue, payload=b"1", priority=0))).job_id
    await stub.Enqueue(pb.EnqueueRequest(queue=queue, payload=b"2", priority=9))
    inflight = await _lease_one(stub, queue)
    await stub.CancelJob(pb.CancelJobRequest(job_id=waiting))
    assert (await _rpc_error(stub.GetJob(pb.GetJobRequest(job_id=waiting))))[0] == grpc.StatusCode.NOT_FOUND
    assert await _rpc_error(stub.CancelJob(pb.CancelJobRequest(job_id=inflight.id))) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "state_conflict",
    )


async def test_list_queues_and_stats(stub: Stub) -> None:
    queue = _queue()
    jobs = [pb.EnqueueRequest(payload=b"1"), pb.EnqueueRequest(payload=b"2", delay_ms=60_000)]
    await stub.EnqueueBatch(pb.EnqueueBatchRequest(queue=queue, jobs=jobs))
    job = await _lease_one(stub, queue)
    await stub.Ack(pb.AckRequest(job_id=job.id, lease_id=job.lease_id))
    summary = {q.name: q for q in (await stub.ListQueues(pb.ListQueuesRequest())).queues}[queue]
    assert (summary.ready, summary.delayed, summary.inflight, summary.dlq, summary.paused) == (0, 1, 0, 0, False)
    stats = await stub.Stats(pb.StatsRequest(queue=queue))
    assert (stats.queue, stats.delayed, stats.enqueued_total, stats.leased_total, stats.acked_total) == (
        queue,
        1,
        2,
        1,
        1,
    )
    assert not stats.HasField("rate_limit")
    assert await _rpc_error(stub.Stats(pb.StatsRequest(queue=_queue()))) == (
        grpc.StatusCode.NOT_FOUND,
        "queue_not_found",
    )


async def test_list_jobs_filters_by_state_and_pages(stub: Stub) -> None:
    queue = _queue()
    jobs = [pb.EnqueueRequest(payload=f"{n}".encode()) for n in range(5)]
    jobs.append(pb.EnqueueRequest(payload=b"99", delay_ms=60_000))
    await stub.EnqueueBatch(pb.EnqueueBatchRequest(queue=queue, jobs=jobs))
    first = await stub.ListJobs(pb.ListJobsRequest(queue=queue, state=pb.JOB_STATE_READY, limit=3))
    assert len(first.jobs) == 3 and first.HasField("next_cursor")
    rest = await stub.ListJobs(
        pb.ListJobsRequest(queue=queue, state=pb.JOB_STATE_READY, limit=3, cursor=first.next_cursor)
    )
    assert [j.payload for j in [*first.jobs, *rest.jobs]] == [f"{n}".encode() for n in range(5)]
    delayed = await stub.ListJobs(pb.ListJobsRequest(queue=queue, state=pb.JOB_STATE_DELAYED))
    assert [j.payload for j in delayed.jobs] == [b"99"] and not delayed.HasField("next_cursor")
    everything = await stub.ListJobs(pb.ListJobsRequest(queue=queue))
    assert len(everything.jobs) == 6
    empty_cursor = await stub.ListJobs(pb.ListJobsRequest(queue=queue, cursor=""))  # as REST's ?cursor=
    assert empty_cursor.jobs == everything.jobs
    assert await _rpc_error(stub.ListDLQ(pb.ListDLQRequest(queue=queue, cursor="garbage"))) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "invalid_argument",
    )


async def test_rate_limit_set_get_delete_and_lease_is_cut(stub: Stub) -> None:
    queue = _queue()
    assert not (await stub.GetRateLimit(pb.GetRateLimitRequest(queue=queue))).exists
    limit = pb.RateLimit(capacity=2, refill_rate=0.001)
    await stub.SetRateLimit(pb.SetRateLimitRequest(queue=queue, rate_limit=limit))
    got = await stub.GetRateLimit(pb.GetRateLimitRequest(queue=queue))
    assert got.exists and (got.rate_limit.capacity, got.rate_limit.refill_rate) == (2, 0.001)
    await stub.EnqueueBatch(pb.EnqueueBatchRequest(queue=queue, jobs=[pb.EnqueueRequest(payload=b"1")] * 3))
    assert len((await stub.Lease(pb.LeaseRequest(queue=queue, max_jobs=3))).jobs) == 2
    stats = await stub.Stats(pb.StatsRequest(queue=queue))
    assert stats.HasField("rate_limit") and stats.rate_limit.capacity == 2
    await stub.DeleteRateLimit(pb.DeleteRateLimitRequest(queue=queue))
    assert not (await stub.GetRateLimit(pb.GetRateLimitRequest(queue=queue))).exists
    assert len((await stub.Lease(pb.LeaseRequest(queue=queue, max_jobs=3))).jobs) == 1
    code, _ = await _rpc_error(stub.SetRateLimit(pb.SetRateLimitRequest(queue=queue)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_tiny_refill_rate_is_refused_naming_it_and_long_polls_still_answer(stub: Stub) -> None:
    """1e-306 tokens/s made the long-poll's wake-up time infinite: UNKNOWN."""
    queue = _queue()
    tiny = pb.RateLimit(capacity=1, refill_rate=1e-306)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.SetRateLimit(pb.SetRateLimitRequest(queue=queue, rate_limit=tiny))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(caught.value.trailing_metadata() or ())[ERROR_FIELD_KEY] == "refill_rate"
    slowest = pb.RateLimit(capacity=1, refill_rate=1e-9)
    await stub.SetRateLimit(pb.SetRateLimitRequest(queue=queue, rate_limit=slowest))
    await stub.EnqueueBatch(pb.EnqueueBatchRequest(queue=queue, jobs=[pb.EnqueueRequest(payload=b"1")] * 2))
    await _lease_one(stub, queue)
    assert not (await stub.Lease(pb.LeaseRequest(queue=queue, wait_ms=10))).jobs


def _policy(message: pb.RetryPolicy) -> tuple[int, float, int, str]:
    return message.base_backoff_ms, message.multiplier, message.max_backoff_ms, message.jitter


async def test_retry_policy_set_get_reset_and_rest_sees_it(stub: Stub, rivetqd: RunningServer) -> None:
    queue = _queue()
    defaults = (1000, 2.0, 3_600_000, "equal")
    assert _policy((await stub.GetRetryPolicy(pb.GetRetryPolicyRequest(queue=queue))).retry_policy) == defaults
    asked = pb.RetryPolicy(base_backoff_ms=250, jitter="none")  # the rest take their defaults
    set_ = await stub.SetRetryPolicy(pb.SetRetryPolicyRequest(queue=queue, retry_policy=asked))
    assert _policy(set_.retry_policy) == (250, 2.0, 3_600_000, "none")
    with rivetqd.client() as http:
        assert http.get(f"/v1/queues/{queue}/retry_policy").json()["base_backoff_ms"] == 250
    await stub.ResetRetryPolicy(pb.ResetRetryPolicyRequest(queue=queue))
    assert _policy((await stub.GetRetryPolicy(pb.GetRetryPolicyRequest(queue=queue))).retry_policy) == defaults


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        (pb.RetryPolicy(multiplier=0.5), "multiplier"),
        (pb.RetryPolicy(jitter="random"), "jitter"),
        (pb.RetryPolicy(base_backoff_ms=-1), "base_backoff_ms"),
        (pb.RetryPolicy(max_backoff_ms=2**62), "max_backoff_ms"),
    ],
)
async def test_a_bad_retry_policy_is_invalid_argument_naming_the_field(
    stub: Stub, policy: pb.RetryPolicy, field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.SetRetryPolicy(pb.SetRetryPolicyRequest(queue=_queue(), retry_policy=policy))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(caught.value.trailing_metadata() or ())["rivetq-error-field"] == field


async def test_pause_and_resume(stub: Stub) -> None:
    queue = _queue()
    await stub.Enqueue(pb.EnqueueRequest(queue=queue, payload=b"1"))
    await stub.Pause(pb.PauseRequest(queue=queue))
    assert (await stub.Lease(pb.LeaseRequest(queue=queue))).jobs == []
    assert (await stub.Stats(pb.StatsRequest(queue=queue))).paused
    await stub.Resume(pb.ResumeRequest(queue=queue))
    assert len((await stub.Lease(pb.LeaseRequest(queue=queue))).jobs) == 1


async def test_purge_queue_deletes_every_job(stub: Stub) -> None:
    queue = _queue()
    jobs = [pb.EnqueueRequest(payload=b"1"), pb.EnqueueRequest(payload=b"2", delay_ms=60_000)]
    await stub.EnqueueBatch(pb.EnqueueBatchRequest(queue=queue, jobs=[*jobs, pb.EnqueueRequest(payload=b"3")]))
    await _lease_one(stub, queue)
    assert (await stub.PurgeQueue(pb.PurgeQueueRequest(queue=queue))).purged == 3
    assert (await stub.ListJobs(pb.ListJobsRequest(queue=queue))).jobs == []


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.EnqueueRequest(queue="bad name", payload=b"1"), "queue"),
        (pb.EnqueueRequest(queue="q", payload=b"not json"), "payload"),
        (pb.EnqueueRequest(queue="q", payload=b""), "payload"),
        (pb.EnqueueRequest(queue="q", payload=b'{"k": "\xff"}'), "payload"),
        (pb.EnqueueRequest(queue="q", payload=b"[" * 2000 + b"]" * 2000), "payload"),  # deeper than msgspec allows
        (pb.EnqueueRequest(queue="q", payload=b"1", priority=10), "priority"),
        (pb.EnqueueRequest(queue="q", payload=b"1", run_at="tomorrow"), "run_at"),
    ],
)
async def test_enqueue_invalid_fields_are_invalid_argument(stub: Stub, request_: pb.EnqueueRequest, field: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Enqueue(request_)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(caught.value.trailing_metadata() or ())["rivetq-error-field"] == field


async def test_payload_over_the_limit_is_resource_exhausted(stub: Stub) -> None:
    too_big = b'"' + b"x" * 5000 + b'"'  # the test server allows 4096 bytes
    assert await _rpc_error(stub.Enqueue(pb.EnqueueRequest(queue=_queue(), payload=too_big))) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "payload_too_large",
    )


async def test_message_over_the_transport_limit_is_resource_exhausted(stub: Stub) -> None:
    huge = b'"' + b"x" * 200_000 + b'"'  # beyond max_payload_bytes + overhead
    code, _ = await _rpc_error(stub.Enqueue(pb.EnqueueRequest(queue=_queue(), payload=huge)))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_enqueue_headers_come_back_on_lease_and_get_job(stub: Stub) -> None:
    queue = _queue()
    headers = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    enqueued = await stub.Enqueue(pb.EnqueueRequest(queue=queue, payload=b"1", headers=headers))
    assert dict((await stub.GetJob(pb.GetJobRequest(job_id=enqueued.job_id))).job.headers) == headers
    assert dict((await _lease_one(stub, queue)).headers) == headers
    too_many = {f"h{i}": "v" for i in range(65)}
    code, error_code = await _rpc_error(stub.Enqueue(pb.EnqueueRequest(queue=queue, payload=b"1", headers=too_many)))
    assert (code, error_code) == (grpc.StatusCode.INVALID_ARGUMENT, "invalid_argument")


async def test_delete_queue_refuses_inflight_jobs_unless_forced(stub: Stub) -> None:
    queue = _queue()
    await stub.Enqueue(pb.EnqueueRequest(queue=queue, payload=b"1"))
    await _lease_one(stub, queue)
    code, error_code = await _rpc_error(stub.DeleteQueue(pb.DeleteQueueRequest(queue=queue)))
    assert (code, error_code) == (grpc.StatusCode.FAILED_PRECONDITION, "state_conflict")
    assert (await stub.DeleteQueue(pb.DeleteQueueRequest(queue=queue, force=True))).deleted_jobs == 1
    code, error_code = await _rpc_error(stub.DeleteQueue(pb.DeleteQueueRequest(queue=queue)))
    assert (code, error_code) == (grpc.StatusCode.NOT_FOUND, "queue_not_found")
