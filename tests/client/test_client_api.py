"""Every client method against a real rivetqd, once with ``Client`` and once with
``AsyncClient`` (the ``api`` fixture)."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import rivetq
from rivetq import JobSpec
from tests.client.support import new_queue

QUEUE_FOR_ERRORS = "field-errors"


def test_client_enqueue_lease_ack_round_trip(api: Any) -> None:
    queue = new_queue()
    job_id = api.enqueue(queue, {"to": "a@example.com"}, priority=7, max_retries=2)
    [job] = api.lease(queue, max_jobs=5, visibility_ms=10_000)
    assert (job.id, job.queue, job.payload, job.priority, job.tries, job.max_retries) == (
        job_id,
        queue,
        {"to": "a@example.com"},
        7,
        0,
        2,
    )
    assert job.state == "inflight" and job.lease_id
    assert job.lease_expires_at is not None and job.lease_expires_at > job.created_at
    assert api.ack(job.id, job.lease_id) is None
    with pytest.raises(rivetq.JobNotFound):
        api.get_job(job_id)


def test_client_lease_serves_priority_first(api: Any) -> None:
    queue = new_queue()
    low = api.enqueue(queue, "low", priority=1)
    high = api.enqueue(queue, "high", priority=9)
    assert [job.id for job in api.lease(queue, max_jobs=2)] == [high, low]


def test_client_enqueue_delay_run_at_and_idempotency(api: Any) -> None:
    queue = new_queue()
    delayed = api.enqueue(queue, 1, delay_ms=60_000)
    scheduled = api.enqueue(queue, 2, run_at=datetime.now(UTC) + timedelta(hours=1))
    first = api.enqueue(queue, 3, idempotency_key="order-1")
    assert api.enqueue(queue, 4, idempotency_key="order-1") == first
    assert api.get_job(delayed).state == "delayed"
    found = api.get_job(scheduled)
    assert found.state == "delayed" and found.eta is not None and found.eta > datetime.now(UTC)
    assert api.get_job(first).idempotency_key == "order-1"
    assert [job.id for job in api.lease(queue, max_jobs=10)] == [first]


def test_client_enqueue_batch_and_ack_batch(api: Any) -> None:
    queue = new_queue()
    ids = api.enqueue_batch(queue, [JobSpec(payload="a", priority=9), {"payload": "b"}, {"payload": "c"}])
    assert len(ids) == 3
    jobs = api.lease(queue, max_jobs=3)
    assert [job.payload for job in jobs] == ["a", "b", "c"]
    results = api.ack_batch([(jobs[0].id, jobs[0].lease_id), (jobs[1].id, "not-the-lease")])
    assert [(r.job_id, r.ok) for r in results] == [(jobs[0].id, True), (jobs[1].id, False)]
    assert results[1].error


def test_client_ack_and_lease_acks_then_hands_out_the_next_jobs(api: Any) -> None:
    queue = new_queue()
    first, second = api.enqueue(queue, "a"), api.enqueue(queue, "b")
    [done] = api.lease(queue)
    result = api.ack_and_lease([(done.id, done.lease_id), (second, "not-the-lease")], queue, max_jobs=5)
    assert [(r.job_id, r.ok, r.error_code) for r in result.acks] == [(first, True, None), (second, False, "lease_lost")]
    assert [(job.id, job.payload, job.state) for job in result.jobs] == [(second, "b", "inflight")]
    with pytest.raises(rivetq.JobNotFound):
        api.get_job(first)
    assert api.ack_and_lease([], queue) == rivetq.AckedLease(acks=[], jobs=[])


def test_client_enqueue_batch_is_atomic(api: Any) -> None:
    queue = new_queue()
    with pytest.raises(rivetq.InvalidArgument):
        api.enqueue_batch(queue, [{"payload": 1}, {"payload": 2, "priority": 99}])
    assert api.lease(queue, max_jobs=10) == []


def test_client_nack_retries_then_dead_letters(api: Any) -> None:
    queue = new_queue()
    job_id = api.enqueue(queue, "x", max_retries=1)
    [job] = api.lease(queue)
    assert api.nack(job.id, job.lease_id, reason="first", delay_ms=0) == "ready"
    [job] = api.lease(queue)
    assert job.tries == 1
    assert api.nack(job.id, job.lease_id, reason="second") == "dead"
    page = api.list_dlq(queue)
    assert [(j.id, j.state, j.last_error) for j in page.jobs] == [(job_id, "dead", "second")]
    assert api.requeue_dlq(queue, [job_id]) == 1
    [job] = api.lease(queue)
    assert job.tries == 0
    assert api.nack(job.id, job.lease_id, delay_ms=60_000) == "delayed"
    assert api.get_job(job_id).state == "delayed"


def test_client_purge_dlq_and_requeue_all(api: Any) -> None:
    queue = new_queue()
    for payload in ("a", "b"):
        api.enqueue(queue, payload, max_retries=0)
    for job in api.lease(queue, max_jobs=2):
        api.nack(job.id, job.lease_id, reason="boom")
    assert api.stats(queue).dlq == 2
    assert api.requeue_dlq(queue) == 2
    for job in api.lease(queue, max_jobs=2):
        api.nack(job.id, job.lease_id)
    assert api.purge_dlq(queue) == 2
    assert api.list_dlq(queue).jobs == []


def test_client_extend_moves_the_expiry(api: Any) -> None:
    queue = new_queue()
    api.enqueue(queue, "x")
    [job] = api.lease(queue, visibility_ms=1_000)
    expires = api.extend(job.id, job.lease_id, 600_000)
    assert expires > job.lease_expires_at + timedelta(minutes=5)
    assert api.get_job(job.id).lease_expires_at == expires


def test_client_cancel(api: Any) -> None:
    queue = new_queue()
    ready = api.enqueue(queue, "ready", priority=0)
    leased_id = api.enqueue(queue, "leased", priority=9)
    [leased] = api.lease(queue)
    assert leased.id == leased_id
    with pytest.raises(rivetq.StateConflict):
        api.cancel(leased_id)
    api.cancel(ready)
    with pytest.raises(rivetq.JobNotFound):
        api.get_job(ready)


def test_client_stats_list_queues_and_list_jobs(api: Any) -> None:
    queue = new_queue()
    ids = [api.enqueue(queue, n) for n in range(3)]
    api.enqueue(queue, "later", delay_ms=60_000)
    stats = api.stats(queue)
    assert (stats.queue, stats.ready, stats.delayed, stats.inflight, stats.dlq) == (queue, 3, 1, 0, 0)
    assert (stats.enqueued_total, stats.paused, stats.rate_limit) == (4, False, None)
    [summary] = [q for q in api.list_queues() if q.name == queue]
    assert (summary.ready, summary.delayed) == (3, 1)
    first = api.list_jobs(queue, state="ready", limit=2)
    assert first.next_cursor is not None
    second = api.list_jobs(queue, state="ready", limit=2, cursor=first.next_cursor)
    assert sorted(job.id for job in first.jobs + second.jobs) == sorted(ids)
    assert [job.payload for job in api.list_jobs(queue, state="delayed").jobs] == ["later"]


def test_client_pause_resume_and_purge(api: Any) -> None:
    queue = new_queue()
    api.enqueue(queue, "x")
    api.pause(queue)
    assert api.stats(queue).paused
    assert api.lease(queue) == []
    api.resume(queue)
    api.enqueue(queue, "y")
    assert api.purge(queue) == 2
    assert api.lease(queue) == []


def test_client_rate_limit(api: Any) -> None:
    queue = new_queue()
    assert api.get_rate_limit(queue) is None
    api.set_rate_limit(queue, 2, 0.001)
    limit = api.get_rate_limit(queue)
    assert (limit.capacity, limit.refill_rate) == (2, 0.001)
    assert api.stats(queue).rate_limit == limit
    for n in range(3):
        api.enqueue(queue, n)
    assert len(api.lease(queue, max_jobs=3)) == 2
    api.delete_rate_limit(queue)
    assert api.get_rate_limit(queue) is None
    assert len(api.lease(queue, max_jobs=3)) == 1


def test_client_retry_policy(api: Any) -> None:
    queue = new_queue()
    defaults = rivetq.RetryPolicy()
    assert api.get_retry_policy(queue) == defaults
    hour_ms = 3_600_000
    policy = api.set_retry_policy(queue, base_backoff_ms=hour_ms, multiplier=3, jitter="none")
    assert policy == rivetq.RetryPolicy(base_backoff_ms=hour_ms, multiplier=3.0, max_backoff_ms=hour_ms, jitter="none")
    assert api.get_retry_policy(queue) == policy
    job_id = api.enqueue(queue, "x")
    [job] = api.lease(queue)
    before = datetime.now(UTC)
    assert api.nack(job.id, job.lease_id) == "delayed"
    # an hour from the nack, not the default's second (at the server's millisecond resolution)
    assert api.get_job(job_id).eta > before + timedelta(minutes=59)
    assert api.delete_retry_policy(queue) is None
    assert api.get_retry_policy(queue) == defaults
    with pytest.raises(rivetq.InvalidArgument, match="multiplier"):
        api.set_retry_policy(queue, multiplier=0.5)
    with pytest.raises(rivetq.InvalidArgument, match="jitter"):
        api.set_retry_policy(queue, jitter="random")
    assert api.get_retry_policy(queue) == defaults


def test_a_leased_job_says_what_a_lookup_does(api: Any) -> None:
    queue = new_queue()
    job_id = api.enqueue(queue, "keyed", idempotency_key="key-1")
    [leased] = api.lease(queue)
    looked_up = api.get_job(job_id)
    assert (leased.idempotency_key, leased.eta) == ("key-1", looked_up.eta)
    assert leased == looked_up


def test_client_long_poll_outlasts_the_client_timeout(server: Any) -> None:
    from rivetq import Client

    with Client(server.url, timeout=0.2) as client:
        assert client.lease(new_queue(), wait_ms=500) == []


@pytest.mark.parametrize("value", ["", ".", ".."])
@pytest.mark.parametrize(("call", "field"), [("purge_dlq", "queue"), ("get_job", "job_id")])
def test_client_refuses_a_queue_or_job_id_that_would_name_another_route(
    api: Any, call: str, field: str, value: str
) -> None:
    """Sent as is, "." would make DELETE /v1/queues/./dlq purge the queue named "dlq"."""
    with pytest.raises(rivetq.InvalidArgument) as refused:
        getattr(api, call)(value)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("call", "arguments", "field"),
    [
        ("enqueue", ("bad q!", 1), "queue"),
        ("enqueue", (QUEUE_FOR_ERRORS, 1), "priority"),
        ("enqueue", (QUEUE_FOR_ERRORS, 1), "run_at"),
        ("list_jobs", (QUEUE_FOR_ERRORS,), "state"),
        ("list_jobs", (QUEUE_FOR_ERRORS,), "limit"),
        ("list_dlq", (QUEUE_FOR_ERRORS,), "limit"),
    ],
    ids=["queue", "priority", "run_at", "state", "limit", "dlq-limit"],
)
def test_client_invalid_argument_names_the_field(api: Any, call: str, arguments: tuple[Any, ...], field: str) -> None:
    bad = {"priority": {"priority": 10}, "run_at": {"run_at": "soon"}, "state": {"state": "zombie"}}
    options = {"limit": {"limit": 0}, **bad}.get(field, {})
    with pytest.raises(rivetq.InvalidArgument) as refused:
        getattr(api, call)(*arguments, **options)
    assert refused.value.field == field


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")], ids=["nan", "inf", "-inf"])
def test_client_refuses_a_payload_json_cannot_hold(api: Any, number: float) -> None:
    queue = new_queue()
    with pytest.raises(rivetq.InvalidArgument) as refused:
        api.enqueue(queue, {"ok": None, "n": [1.5, number]})
    assert refused.value.field == "payload"
    with pytest.raises(rivetq.InvalidArgument):
        api.enqueue_batch(queue, [{"payload": number}])
    assert api.enqueue(queue, {"ok": None}) and api.stats(queue).ready == 1  # null itself is fine


def test_client_healthz(api: Any) -> None:
    assert api.healthz() is True


def test_client_errors_map_to_the_error_tree(api: Any) -> None:
    queue = new_queue()
    with pytest.raises(rivetq.InvalidArgument) as invalid:
        api.enqueue(queue, "x", priority=12)
    assert invalid.value.field == "priority" and "priority" in str(invalid.value)
    with pytest.raises(rivetq.JobNotFound) as missing:
        api.get_job("no-such-job")
    assert missing.value.code == "job_not_found"
    api.enqueue(queue, "x")
    [job] = api.lease(queue)
    for call in (
        lambda: api.ack(job.id, "wrong-lease"),
        lambda: api.nack(job.id, "wrong-lease"),
        lambda: api.extend(job.id, "wrong-lease", 1_000),
    ):
        with pytest.raises(rivetq.LeaseLost) as lost:
            call()
        assert lost.value.code == "lease_lost"
    with pytest.raises(rivetq.QueueNotFound):
        api.stats(new_queue())
    with pytest.raises(rivetq.InvalidArgument):
        api.lease("bad queue name!")


@pytest.mark.parametrize(("method", "result"), [("enqueue", "str"), ("stats", "QueueStats"), ("ack", "None")])
def test_help_shows_what_a_method_returns(method: str, result: str) -> None:
    """Not the ``Call[...]`` the method is built from; an async method's result is awaited."""
    from rivetq import AsyncClient, Client

    for client in (Client("http://127.0.0.1:9"), AsyncClient("http://127.0.0.1:9")):
        assert inspect.signature(getattr(client, method)).return_annotation == result


def test_client_headers_travel_to_lease_and_lookup(api: Any) -> None:
    queue = new_queue()
    trace = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    job_id = api.enqueue(queue, 1, headers=trace)
    [batch_id] = api.enqueue_batch(queue, [JobSpec(payload=2, headers={"n": "2"})])
    assert api.get_job(job_id).headers == trace
    assert [(job.id, job.headers) for job in api.lease(queue, max_jobs=2)] == [(job_id, trace), (batch_id, {"n": "2"})]
    with pytest.raises(rivetq.InvalidArgument) as caught:
        api.enqueue(queue, 3, headers={"": "x"})
    assert caught.value.field == "headers"


def test_client_delete_queue_refuses_inflight_jobs_unless_forced(api: Any) -> None:
    queue = new_queue()
    api.enqueue_batch(queue, [{"payload": 1}, {"payload": 2}])
    api.lease(queue)
    with pytest.raises(rivetq.StateConflict):
        api.delete_queue(queue)
    assert api.delete_queue(queue, force=True) == 2
    assert queue not in {summary.name for summary in api.list_queues()}
    with pytest.raises(rivetq.QueueNotFound):
        api.delete_queue(queue)


def test_client_concurrency_limit(api: Any) -> None:
    queue = new_queue()
    api.enqueue_batch(queue, [{"payload": n} for n in range(3)])
    assert api.get_concurrency_limit(queue) is None
    api.set_concurrency_limit(queue, 2)
    assert api.get_concurrency_limit(queue) == 2
    assert len(api.lease(queue, max_jobs=10)) == 2
    api.delete_concurrency_limit(queue)
    assert api.get_concurrency_limit(queue) is None
    assert len(api.lease(queue, max_jobs=10)) == 1
    with pytest.raises(rivetq.InvalidArgument) as caught:
        api.set_concurrency_limit(queue, 0)
    assert caught.value.field == "max_inflight"


def test_client_schedules(api: Any) -> None:
    name, queue = new_queue(), new_queue()
    created = api.put_schedule(name, queue, {"report": "daily"}, cron="30 2 * * *", timezone="Europe/Berlin")
    assert isinstance(created, rivetq.Schedule)
    assert (created.name, created.queue, created.payload, created.runs_total) == (name, queue, {"report": "daily"}, 0)
    assert created.next_run_at > datetime.now(UTC)
    assert api.get_schedule(name) == created
    assert name in [schedule.name for schedule in api.list_schedules()]
    assert api.pause_schedule(name).paused is True
    assert api.resume_schedule(name).paused is False
    job_id = api.run_schedule(name)
    assert api.get_job(job_id).headers["rivetq-schedule"] == name
    api.delete_schedule(name)
    with pytest.raises(rivetq.ScheduleNotFound):
        api.get_schedule(name)
    with pytest.raises(rivetq.InvalidArgument) as caught:
        api.put_schedule(name, queue, 1, cron="not cron")
    assert caught.value.field == "cron"
