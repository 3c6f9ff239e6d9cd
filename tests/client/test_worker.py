"""``Worker`` (threads) against a real rivetqd: ack on success, nack with the traceback
on failure up to the DLQ, lease heartbeats, lost leases, and the drain on stop()."""

from __future__ import annotations

import http.server
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import rivetq
from rivetq import Client, Job, Worker
from tests.client.support import calls_to, new_queue, wait_until
from tests.e2e.server import RunningServer, free_port

VISIBILITY_MS = 600
IDLE_CALLS_PER_S = 20  # 4 at a 0.25 s pause; without one, thousands


@pytest.fixture
def client(server: RunningServer) -> Iterator[Client]:
    with Client(server.url) as sdk:
        yield sdk


@contextmanager
def running(worker: Worker) -> Iterator[threading.Thread]:
    """Run ``worker`` in a thread; stop it and wait for the drain on exit."""
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        worker.stop()
        thread.join(30)
        assert not thread.is_alive(), "worker did not drain"


def _worker(client: Client, queue: str, handler: Callable[[Job], Any], **options: Any) -> Worker:
    options = {"visibility_ms": VISIBILITY_MS, "wait_ms": 100, "grace_period_s": 5.0, **options}
    return Worker(client, queue, handler, **options)


def test_worker_acks_what_the_handler_finishes_with_bounded_concurrency(client: Client) -> None:
    queue = new_queue()
    for n in range(8):
        client.enqueue(queue, n)
    lock, active, peak, seen = threading.Lock(), [0], [0], []

    def handle(job: Job) -> None:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.02)
        with lock:
            active[0] -= 1
            seen.append(job.payload)

    with running(_worker(client, queue, handle, concurrency=3)):
        wait_until(lambda: client.stats(queue).acked_total == 8, "8 acks")
    assert sorted(seen) == list(range(8))
    assert 1 <= peak[0] <= 3
    stats = client.stats(queue)
    assert (stats.ready, stats.inflight, stats.nacked_total) == (0, 0, 0)


def test_a_busy_worker_acks_inside_its_next_lease_call(client: Client, server: RunningServer) -> None:
    queue = new_queue()
    client.enqueue_batch(queue, [{"payload": n} for n in range(20)])
    acks_before = calls_to(server, "/v1/ack")
    with running(_worker(client, queue, lambda job: time.sleep(0.005), concurrency=1)):
        wait_until(lambda: client.stats(queue).acked_total == 20, "20 acks")
    assert calls_to(server, "/v1/ack") == acks_before  # one slot: no lease call is out when a job ends
    stats = client.stats(queue)
    assert (stats.ready, stats.inflight, stats.acked_total, stats.nacked_total) == (0, 0, 20, 0)


def test_an_idle_worker_that_does_not_long_poll_pauses_between_lease_calls(
    client: Client, server: RunningServer
) -> None:
    queue = new_queue()
    before = calls_to(server, "/v1/queues/{queue}/lease")
    with running(_worker(client, queue, lambda job: None, wait_ms=0, idle_pause_s=0.25)):
        time.sleep(1.0)
    assert calls_to(server, "/v1/queues/{queue}/lease") - before <= IDLE_CALLS_PER_S


class _BadGateway(http.server.BaseHTTPRequestHandler):
    """A proxy whose upstream (rivetqd) is down: nginx's 502 page for every request."""

    calls = 0

    def do_POST(self) -> None:
        type(self).calls += 1
        body = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
        self.send_response(502)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_worker_behind_a_proxy_retries_through_its_502s() -> None:
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BadGateway)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    failures: list[BaseException] = []

    def run(worker: Worker) -> None:
        try:
            worker.run()
        except BaseException as error:
            failures.append(error)
            raise

    try:
        with Client(f"http://127.0.0.1:{proxy.server_port}") as sdk:
            worker = _worker(sdk, new_queue(), lambda job: None)
            thread = threading.Thread(target=run, args=(worker,), daemon=True)
            thread.start()
            wait_until(lambda: _BadGateway.calls >= 2 or not thread.is_alive(), "a second lease call")
            assert (thread.is_alive(), failures) == (True, [])
            worker.stop()
            thread.join(30)
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert not thread.is_alive() and failures == []


def test_a_worker_that_cannot_connect_logs_the_server_it_tried(caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    nowhere = Client(url, retries=0)
    worker = _worker(nowhere, "emails", lambda job: None, error_pause_s=0.01)
    with nowhere, caplog.at_level(logging.WARNING, logger="rivetq.worker"), running(worker):
        wait_until(lambda: caplog.records, "a failed lease logged")
    line = caplog.records[0].getMessage()
    assert line.startswith(f"lease from emails failed: cannot connect to the RivetQ server at {url} "), line


def test_worker_nacks_failures_with_the_traceback_until_the_dlq(client: Client) -> None:
    queue = new_queue()
    job_id = client.enqueue(queue, "bad", max_retries=1)
    calls: list[int] = []

    def handle(job: Job) -> None:
        calls.append(job.tries)
        raise ValueError(f"cannot handle {job.payload}")

    with running(_worker(client, queue, handle)):
        wait_until(lambda: client.stats(queue).dlq == 1, "the job in the DLQ")
    assert calls == [0, 1]
    [dead] = client.list_dlq(queue).jobs
    assert dead.id == job_id and dead.last_error is not None
    assert "Traceback" in dead.last_error and "ValueError: cannot handle bad" in dead.last_error
    assert client.stats(queue).nacked_total == 2


@pytest.mark.parametrize("error", [SystemExit(3), KeyboardInterrupt()], ids=["SystemExit", "KeyboardInterrupt"])
def test_a_handler_raising_a_base_exception_fails_only_its_job(client: Client, error: BaseException) -> None:
    queue = new_queue()
    bad = client.enqueue(queue, "bad", max_retries=0, priority=9)
    client.enqueue(queue, "good", priority=1)

    def handle(job: Job) -> None:
        if job.payload == "bad":
            raise error

    with running(_worker(client, queue, handle, concurrency=1)):
        wait_until(lambda: client.stats(queue).acked_total == 1, "the good job acked")
        wait_until(lambda: client.stats(queue).dlq == 1, "the bad job in the DLQ")
    dead = client.get_job(bad)
    assert dead.last_error is not None and type(error).__name__ in dead.last_error


def test_worker_extends_the_lease_of_a_slow_handler(client: Client) -> None:
    queue = new_queue()
    job_id = client.enqueue(queue, "slow")
    started, release = threading.Event(), threading.Event()
    first_lease: list[Job] = []

    def handle(job: Job) -> None:
        first_lease.append(job)
        started.set()
        release.wait(30)

    with running(_worker(client, queue, handle)):
        assert started.wait(10)
        time.sleep(3 * VISIBILITY_MS / 1000)  # three visibility timeouts pass on the real server
        held = client.get_job(job_id)
        assert (held.state, held.lease_id, held.tries) == ("inflight", first_lease[0].lease_id, 0)
        assert held.lease_expires_at is not None and held.lease_expires_at > first_lease[0].lease_expires_at
        assert client.lease(queue) == []
        release.set()
        wait_until(lambda: client.stats(queue).acked_total == 1, "the ack")
    assert len(first_lease) == 1
    assert client.stats(queue).leased_total == 1


def test_worker_logs_a_lost_lease_instead_of_acking(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    queue = new_queue()
    job_id = client.enqueue(queue, "x")
    other: list[Job] = []

    def handle(job: Job) -> None:
        # Someone else takes the job over while the handler runs.
        assert job.lease_id is not None
        client.nack(job.id, job.lease_id, delay_ms=0)
        other.extend(client.lease(queue))

    with caplog.at_level(logging.WARNING, logger="rivetq.worker"), running(_worker(client, queue, handle)):
        wait_until(lambda: any("lease lost" in r.getMessage() for r in caplog.records), "the lost-lease log line")
    assert any(job_id in r.getMessage() and "ack" in r.getMessage() for r in caplog.records)
    held = client.get_job(job_id)
    assert (held.state, held.lease_id) == ("inflight", other[0].lease_id)


def test_worker_stop_lets_running_handlers_finish_within_the_grace_period(client: Client) -> None:
    queue = new_queue()
    job_id = client.enqueue(queue, "x")
    started = threading.Event()

    def handle(job: Job) -> None:
        started.set()
        time.sleep(0.3)

    worker = _worker(client, queue, handle, grace_period_s=10.0)
    with running(worker):
        assert started.wait(10)
    with pytest.raises(rivetq.JobNotFound):
        client.get_job(job_id)


def test_worker_stop_nacks_handlers_past_the_grace_period(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    queue = new_queue()
    job_id = client.enqueue(queue, "stuck")
    started, release = threading.Event(), threading.Event()

    def handle(job: Job) -> None:
        started.set()
        release.wait(30)

    with caplog.at_level(logging.WARNING, logger="rivetq.worker"):
        with running(_worker(client, queue, handle, grace_period_s=0.2)):
            assert started.wait(10)
        job = client.get_job(job_id)
        assert (job.state, job.tries) == ("ready", 1)
        assert job.last_error is not None and "grace period" in job.last_error
        release.set()
        wait_until(lambda: f"rivetq-job-{job_id}" not in {t.name for t in threading.enumerate()}, "the handler")
    messages = [record.getMessage() for record in caplog.records]
    assert any("finished after the drain nacked it" in message for message in messages)
    assert not any("lease lost" in message for message in messages)  # no ack was tried


def test_worker_stops_extending_a_lost_lease_and_does_not_ack(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    queue = new_queue()
    job_id = client.enqueue(queue, "x")

    def handle(job: Job) -> None:
        client.nack(job.id, job.lease_id, delay_ms=60_000)  # the lease ends under the worker
        wait_until(lambda: any("during extend" in r.getMessage() for r in caplog.records), "a failed heartbeat")

    with caplog.at_level(logging.WARNING, logger="rivetq.worker"), running(_worker(client, queue, handle)):
        wait_until(lambda: any("finished but its lease was lost" in r.getMessage() for r in caplog.records), "no ack")
    assert sum("during extend" in r.getMessage() for r in caplog.records) == 1  # no further heartbeats
    job = client.get_job(job_id)
    assert (job.state, job.tries) == ("delayed", 1)


def test_worker_hands_the_job_headers_to_the_handler(client: Client) -> None:
    queue = new_queue()
    client.enqueue(queue, 1, headers={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
    seen: list[dict[str, str]] = []
    with running(_worker(client, queue, lambda job: seen.append(job.headers))):
        wait_until(lambda: client.stats(queue).acked_total == 1, "1 ack")
    assert seen == [{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}]
