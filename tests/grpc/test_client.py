"""rivetq.GrpcClient against a real rivetqd: every method, errors as rivetq.errors."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from rivetq.client.client import Client
from rivetq.client.grpc_client import GrpcClient
from rivetq.client.models import AckedLease, QueueSummary, RetryPolicy
from rivetq.errors import (
    ConnectionFailed,
    InvalidArgument,
    JobNotFound,
    PayloadTooLarge,
    QueueNotFound,
    ScheduleNotFound,
    StateConflict,
)
from tests.e2e.server import RunningServer, free_port


@pytest.fixture
def client(rivetqd: RunningServer) -> Iterator[GrpcClient]:
    with GrpcClient(str(rivetqd.grpc_target)) as client:
        yield client


def _queue() -> str:
    return f"c-{uuid.uuid4().hex[:12]}"


def test_switching_from_the_rest_client_changes_only_the_class_and_address(rivetqd: RunningServer) -> None:
    """The same keyword arguments and the same public methods as ``rivetq.Client``."""
    with (
        Client(rivetqd.url, token=None, timeout=5.0) as rest,
        GrpcClient(str(rivetqd.grpc_target), token=None, timeout=5.0) as grpc_client,
    ):
        queue = _queue()
        job_id = grpc_client.enqueue(queue, 1)
        assert rest.get_job(job_id).id == grpc_client.get_job(job_id).id
    public = {name for name in dir(Client) if not name.startswith("_")}
    assert public - {"send", "healthz", "base_url"} <= {name for name in dir(GrpcClient) if not name.startswith("_")}


def test_client_enqueue_lease_ack(client: GrpcClient) -> None:
    queue = _queue()
    job_id = client.enqueue(queue, {"to": "ada", "n": [1, 2]}, priority=7, max_retries=1, idempotency_key="k")
    assert client.enqueue(queue, {"other": True}, idempotency_key="k") == job_id
    (job,) = client.lease(queue, visibility_ms=10_000)
    assert (job.id, job.payload, job.priority, job.state, job.tries) == (
        job_id,
        {"to": "ada", "n": [1, 2]},
        7,
        "inflight",
        0,
    )
    assert job.lease_id is not None and job.lease_expires_at is not None
    assert job.created_at <= job.lease_expires_at
    assert client.extend(job.id, job.lease_id, 60_000) > job.lease_expires_at
    client.ack(job.id, job.lease_id)
    with pytest.raises(JobNotFound):  # acked: gone
        client.ack(job.id, job.lease_id)
    with pytest.raises(JobNotFound):
        client.get_job(job_id)


def test_client_raw_payload_passes_through(client: GrpcClient, rivetqd: RunningServer) -> None:
    queue = _queue()
    client.enqueue(queue, msgspec.Raw(b'{"a" :  1.50}'), run_at=datetime(2000, 1, 1, tzinfo=UTC))
    with rivetqd.client() as rest:
        assert rest.post(f"/v1/queues/{queue}/lease", json={}).content.count(b'"payload":{"a" :  1.50}') == 1


def test_client_batch_nack_dlq(client: GrpcClient) -> None:
    queue = _queue()
    ids = client.enqueue_batch(queue, [{"payload": n, "max_retries": 0} for n in range(3)])
    jobs = client.lease(queue, max_jobs=3)
    results = client.ack_batch([(jobs[0].id, str(jobs[0].lease_id)), (jobs[1].id, "wrong")])
    assert [(r.job_id, r.ok, r.error_code) for r in results] == [
        (jobs[0].id, True, None),
        (jobs[1].id, False, "lease_lost"),
    ]
    assert client.nack(jobs[1].id, str(jobs[1].lease_id), reason="boom") == "dead"
    assert client.nack(jobs[2].id, str(jobs[2].lease_id)) == "dead"
    page = client.list_dlq(queue, limit=1)
    assert len(page.jobs) == 1 and page.next_cursor is not None
    assert page.jobs[0].state == "dead"
    assert client.requeue_dlq(queue, [jobs[1].id]) == 1
    assert client.purge_dlq(queue) == 1
    assert client.requeue_dlq(queue) == 0
    assert [job.id for job in client.list_jobs(queue, state="ready").jobs] == [ids[1]]


def test_client_queue_admin(client: GrpcClient) -> None:
    queue = _queue()
    client.enqueue(queue, 1)
    client.set_rate_limit(queue, capacity=5, refill_rate=2.5)
    rate_limit = client.get_rate_limit(queue)
    assert rate_limit is not None and (rate_limit.capacity, rate_limit.refill_rate) == (5, 2.5)
    client.pause(queue)
    stats = client.stats(queue)
    assert (stats.ready, stats.paused, stats.rate_limit) == (1, True, rate_limit)
    summary = {q.name: q for q in client.list_queues()}[queue]
    assert summary == QueueSummary(name=queue, ready=1, delayed=0, inflight=0, dlq=0, paused=True, enqueued_total=1)
    assert client.lease(queue) == []
    client.resume(queue)
    client.delete_rate_limit(queue)
    assert client.get_rate_limit(queue) is None
    assert {q.name: q.ready for q in client.list_queues()}[queue] == 1
    assert client.purge(queue) == 1
    job_id = client.enqueue(queue, 2)
    client.cancel(job_id)
    with pytest.raises(QueueNotFound):
        client.stats(_queue())


def test_client_retry_policy(client: GrpcClient, rivetqd: RunningServer) -> None:
    queue = _queue()
    assert client.get_retry_policy(queue) == RetryPolicy()
    policy = client.set_retry_policy(queue, base_backoff_ms=0, max_backoff_ms=60_000, jitter="full")
    assert policy == RetryPolicy(base_backoff_ms=0, multiplier=2.0, max_backoff_ms=60_000, jitter="full")
    assert client.get_retry_policy(queue) == policy
    with rivetqd.client() as http:
        assert http.get(f"/v1/queues/{queue}/retry_policy").json()["max_backoff_ms"] == 60_000
    client.delete_retry_policy(queue)
    assert client.get_retry_policy(queue) == RetryPolicy()
    with pytest.raises(InvalidArgument) as invalid:
        client.set_retry_policy(queue, multiplier=101)
    assert invalid.value.field == "multiplier"  # from the rivetq-error-field trailer


def test_client_maps_errors(client: GrpcClient) -> None:
    queue = _queue()
    with pytest.raises(InvalidArgument):
        client.enqueue("bad name", 1)
    with pytest.raises(PayloadTooLarge):
        client.enqueue(queue, "x" * 5000)
    client.enqueue(queue, 1)
    (job,) = client.lease(queue)
    with pytest.raises(StateConflict):
        client.cancel(job.id)
    with pytest.raises(InvalidArgument):
        client.list_jobs(queue, state="bogus")


@pytest.mark.parametrize(
    "call", [lambda c: c.enqueue("q", 1), lambda c: list(c.stream_lease("q"))], ids=["unary", "stream"]
)
def test_an_unreachable_server_is_connection_failed_naming_its_address(call: Callable[[GrpcClient], object]) -> None:
    target = f"127.0.0.1:{free_port()}"
    with GrpcClient(target, timeout=2.0) as nobody, pytest.raises(ConnectionFailed) as failed:
        call(nobody)
    assert str(failed.value).startswith(f"no answer from the RivetQ gRPC server at {target}: UNAVAILABLE")


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c, q: c.enqueue(q, 1, priority=2**40), "priority"),
        (lambda c, q: c.enqueue(q, 1, priority="7"), "priority"),
        (
            lambda c, q: c.enqueue_batch(q, [{"payload": 1}, {"payload": 2, "max_retries": 2**31}]),
            "jobs[1].max_retries",
        ),
        (lambda c, q: c.lease(q, visibility_ms=2**63), "visibility_ms"),
        (lambda c, q: c.list_jobs(q, limit=2**31), "limit"),
        (lambda c, q: c.list_dlq(q, limit=1.5), "limit"),
        (lambda c, q: c.extend("job", "lease", visibility_ms=2**63), "visibility_ms"),
        (lambda c, q: c.ack("job", None), "lease_id"),
    ],
)
def test_a_value_that_fits_no_protobuf_field_is_invalid_argument_naming_it(
    client: GrpcClient, call: Callable[[GrpcClient, str], object], field: str
) -> None:
    """As the REST client says it (the server names the field), not protobuf's ValueError."""
    with pytest.raises(InvalidArgument) as invalid:
        call(client, _queue())
    assert invalid.value.field == field


def test_client_stream_lease(client: GrpcClient) -> None:
    queue = _queue()
    ids = client.enqueue_batch(queue, [{"payload": n} for n in range(5)])
    seen = []
    for job in client.stream_lease(queue, max_unacked=2):
        seen.append(job.id)
        client.ack(job.id, str(job.lease_id))
        if len(seen) == 5:
            break
    assert sorted(seen) == sorted(ids)
    assert client.stats(queue).acked_total == 5


def test_client_ack_and_lease(client: GrpcClient) -> None:
    queue = _queue()
    first, second = client.enqueue_batch(queue, [{"payload": "a"}, {"payload": "b"}])
    (done,) = client.lease(queue)
    result = client.ack_and_lease([(done.id, str(done.lease_id)), (second, "wrong")], queue, max_jobs=5)
    assert [(r.job_id, r.ok, r.error_code) for r in result.acks] == [(first, True, None), (second, False, "lease_lost")]
    assert [(job.id, job.payload) for job in result.jobs] == [(second, "b")]
    assert client.ack_and_lease([], queue) == AckedLease(acks=[], jobs=[])
    with pytest.raises(InvalidArgument):
        client.ack_and_lease([(second, "")], queue)
    assert client.get_job(second).state == "inflight"


def test_acks_sent_with_a_lease_free_stream_slots(client: GrpcClient) -> None:
    queue = _queue()
    ids = client.enqueue_batch(queue, [{"payload": n} for n in range(3)])
    seen = []
    for job in client.stream_lease(queue, max_unacked=1):
        seen.append(job.id)
        client.ack_and_lease([(job.id, str(job.lease_id))], _queue())
        if len(seen) == 3:
            break
    assert sorted(seen) == sorted(ids)


def test_client_imports_no_server_code() -> None:
    """Only the generated messages: the client runs with the rivetq[grpc] extra alone."""
    code = "import sys, rivetq.client.grpc_client; print(*sorted(sys.modules))"
    modules = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    server_side = [name for name in modules if name.startswith(("rivetq.server", "rivetq.manager", "rivetq.settings"))]
    assert "rivetq.server.grpc._pb.rivetq_pb2" in server_side
    packages = {"rivetq.server", "rivetq.server.grpc"}  # their __init__ modules import nothing
    assert [name for name in server_side if name not in packages and ".grpc._pb" not in name] == []


def test_client_refuses_nan_in_a_payload(client: GrpcClient) -> None:
    with pytest.raises(InvalidArgument) as refused:
        client.enqueue(_queue(), [float("nan")])
    assert refused.value.field == "payload"


def _docs_block(page: str, language: str, containing: str) -> str:
    """The one ``language`` code block of ``docs/<page>`` that contains ``containing``."""
    text = (Path(__file__).resolve().parents[2] / "docs" / page).read_text()
    blocks = re.findall(f"```{language}\n(.*?)```", text, re.DOTALL)
    [block] = [block for block in blocks if containing in block]
    return block


def test_the_docs_grpc_example_prints_its_job_after_the_go_example_ran(rivetqd: RunningServer) -> None:
    """The docs' examples run in order on one server: the Go SDK page's enqueue must not
    make the gRPC page's a duplicate (a shared idempotency key did), or it prints nothing."""
    queue = _queue()
    go_example = _docs_block("go-sdk.md", "go", 'jobID, err := client.Enqueue(ctx, "emails"')
    go_key = re.search(r'IdempotencyKey: "([^"]+)"', go_example)
    assert go_key is not None
    with Client(rivetqd.url) as rest:  # what the Go example does
        go_job = rest.enqueue(queue, {"to": "user@example.com"}, priority=7, delay_ms=5000, idempotency_key=go_key[1])
    example = _docs_block("grpc.md", "python", 'GrpcClient("127.0.0.1:9090", token=None)')
    example = example.replace('"emails"', repr(queue))
    printed = io.StringIO()
    scope: dict[str, object] = {}
    with contextlib.redirect_stdout(printed):
        exec(example.replace("127.0.0.1:9090", str(rivetqd.grpc_target)), scope)  # the page's own code
    assert scope["job_id"] != go_job
    assert printed.getvalue() == f"{scope['job_id']} {{'to': 'user@example.com'}} 0\n"


def test_client_headers_travel_to_lease_and_lookup(client: GrpcClient) -> None:
    queue = _queue()
    job_id = client.enqueue(queue, 1, headers={"traceparent": "00-abc-01"})
    assert client.get_job(job_id).headers == {"traceparent": "00-abc-01"}
    client.enqueue_batch(queue, [{"payload": 2, "headers": {"n": "2"}}, {"payload": 3}])
    assert [job.headers for job in client.lease(queue, max_jobs=3)] == [{"traceparent": "00-abc-01"}, {"n": "2"}, {}]
    with pytest.raises(InvalidArgument) as caught:
        client.enqueue_batch(queue, [{"payload": 4, "headers": {"big": "x" * 9000}}])
    assert caught.value.field == "jobs[0].headers.big"


def test_client_delete_queue(client: GrpcClient) -> None:
    queue = _queue()
    client.enqueue(queue, 1)
    client.lease(queue)
    with pytest.raises(StateConflict):
        client.delete_queue(queue)
    assert client.delete_queue(queue, force=True) == 1
    with pytest.raises(QueueNotFound):
        client.stats(queue)


def test_client_concurrency_limit(client: GrpcClient) -> None:
    queue = _queue()
    client.enqueue_batch(queue, [{"payload": n} for n in range(3)])
    client.set_concurrency_limit(queue, 2)
    assert client.get_concurrency_limit(queue) == 2
    assert client.stats(queue).concurrency_limit == 2
    assert len(client.lease(queue, max_jobs=10)) == 2
    client.delete_concurrency_limit(queue)
    assert client.get_concurrency_limit(queue) is None
    assert client.stats(queue).concurrency_limit is None
    with pytest.raises(InvalidArgument) as caught:
        client.set_concurrency_limit(queue, 0)
    assert caught.value.field == "max_inflight"


def test_client_schedules(client: GrpcClient) -> None:
    name, queue = _queue(), _queue()
    created = client.put_schedule(name, queue, {"n": 1}, interval_ms=60_000, headers={"team": "data"}, catchup="all")
    assert (created.name, created.interval_ms, created.cron, created.catchup) == (name, 60_000, None, "all")
    assert (created.payload, created.headers, created.last_run_at) == ({"n": 1}, {"team": "data"}, None)
    assert client.get_schedule(name) == created
    assert name in [schedule.name for schedule in client.list_schedules()]
    assert client.pause_schedule(name).paused is True
    assert client.resume_schedule(name).paused is False
    assert client.get_job(client.run_schedule(name)).headers["rivetq-schedule"] == name
    client.delete_schedule(name)
    with pytest.raises(ScheduleNotFound):
        client.get_schedule(name)
    with pytest.raises(InvalidArgument) as caught:
        client.put_schedule(name, queue, 1, cron="@daily", timezone="Nowhere/Else")
    assert caught.value.field == "timezone"


@pytest.mark.parametrize("field", ["timezone", "catchup"])
def test_an_empty_schedule_option_is_refused_as_over_rest(client: GrpcClient, field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        client.put_schedule(_queue(), _queue(), 1, cron="@daily", **{field: ""})  # type: ignore[arg-type]
    assert caught.value.field == field
