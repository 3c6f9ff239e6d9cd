"""``rivetqd --workers 2``: one storage owner behind two front processes. Calls through
either front see one server (long-polls woken across fronts, idempotency keys, one set of
metrics), and SIGKILL of any process loses no acknowledged write and leaves nothing
holding the port or the data directory's lock."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import signal
import socket
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import RunningServer, ServerFactory, free_port, is_running, spawn_server, start_server

pytestmark = pytest.mark.slow

TWO = ("--workers", "2")
LOGGED = {"RIVETQ_LOGGING_ACCESS_LOG": "true"}
GONE_WITHIN_S = 20.0


def _front_of(server: RunningServer, client: httpx.Client) -> str:
    """Which front serves ``client``'s (kept-alive) connection, from the access log."""
    probe = f"probe-{uuid.uuid4().hex}"
    assert client.get(f"/v1/queues/{probe}/stats").status_code == 404
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for event in server.log_events():
            if event.get("event") == "http_request" and probe in str(event.get("path")):
                return str(event["process"])
        time.sleep(0.02)
    raise AssertionError("the probe was not logged")


@contextlib.contextmanager
def _one_connection_per_front(server: RunningServer) -> Iterator[dict[str, httpx.Client]]:
    """A kept-alive connection to each front (connections land on fronts as the kernel
    hands them out: open some until both fronts have one)."""
    with contextlib.ExitStack() as stack:
        pinned: dict[str, httpx.Client] = {}
        for _ in range(40):
            client = stack.enter_context(server.client(limits=httpx.Limits(max_connections=1)))
            pinned.setdefault(_front_of(server, client), client)
            if len(pinned) == 2:
                yield pinned
                return
        raise AssertionError(f"every connection went to {sorted(pinned)}")


def _enqueue(client: httpx.Client, queue: str, **fields: object) -> str:
    response = client.post(f"/v1/queues/{queue}/enqueue", json={"payload": {"n": 1}, **fields})
    assert response.status_code in (200, 201), response.text
    return str(response.json()["job_id"])


def test_requests_through_both_fronts_reach_one_server(servers: ServerFactory) -> None:
    server = servers.start(*TWO, env=LOGGED)
    assert set(server.processes()) == {"server", "owner", "front-0", "front-1"}
    with _one_connection_per_front(server) as fronts:
        job_id = _enqueue(fronts["front-0"], "one")
        assert fronts["front-1"].get(f"/v1/jobs/{job_id}").json()["state"] == "ready"


def test_a_long_poll_is_woken_by_an_enqueue_through_the_other_front(servers: ServerFactory) -> None:
    server = servers.start(*TWO, env=LOGGED)
    with _one_connection_per_front(server) as fronts, concurrent.futures.ThreadPoolExecutor(1) as pool:
        lease = pool.submit(
            fronts["front-0"].post, "/v1/queues/woken/lease", json={"wait_ms": 15_000, "visibility_ms": 30_000}
        )
        time.sleep(0.3)  # the long-poll is waiting in the owner
        job_id = _enqueue(fronts["front-1"], "woken")
        [leased] = lease.result(timeout=15).json()["jobs"]
    assert leased["id"] == job_id


def test_one_idempotency_key_makes_one_job_across_fronts(servers: ServerFactory) -> None:
    server = servers.start(*TWO, env=LOGGED)
    with _one_connection_per_front(server) as fronts, concurrent.futures.ThreadPoolExecutor(8) as pool:
        clients = [fronts["front-0"], fronts["front-1"]] * 10
        body = {"payload": {"n": 1}, "idempotency_key": "once"}
        answers = list(pool.map(lambda c: c.post("/v1/queues/keyed/enqueue", json=body).json(), clients))
        assert len({answer["job_id"] for answer in answers}) == 1
        assert sum(not answer.get("duplicate", False) for answer in answers) == 1
        assert fronts["front-0"].get("/v1/queues/keyed/stats").json()["ready"] == 1


async def _together(server: RunningServer, requests: list[tuple[str, dict[str, object]]]) -> list[httpx.Response]:
    """``requests`` (path, JSON body) sent at once, each on a connection of its own."""
    async with httpx.AsyncClient(base_url=server.url, limits=httpx.Limits(max_connections=len(requests))) as http:
        return list(await asyncio.gather(*(http.post(path, json=body) for path, body in requests)))


def test_calls_joined_in_a_front_each_get_their_own_answer(servers: ServerFactory) -> None:
    """Enqueues, leases and acks that arrive together go to the owner as one call; each
    client still gets its own job, its own lease and its own ack's error."""
    server = servers.start(*TWO)
    enqueued = asyncio.run(_together(server, [("/v1/queues/joined/enqueue", {"payload": {"n": n}}) for n in range(24)]))
    assert [reply.status_code for reply in enqueued] == [201] * 24
    leased = asyncio.run(_together(server, [("/v1/queues/joined/lease", {"visibility_ms": 60_000})] * 30))
    jobs = [job for reply in leased for job in reply.json()["jobs"]]
    assert sorted(job["id"] for job in jobs) == sorted(reply.json()["job_id"] for reply in enqueued)
    acks = [{"job_id": job["id"], "lease_id": job["lease_id"]} for job in jobs]
    acks[3]["lease_id"] = "L-not-the-lease"
    acks[5]["job_id"] = "j-unknown"
    acked = asyncio.run(_together(server, [("/v1/ack", ack) for ack in acks]))
    errors = {n: reply.json()["error"] for n, reply in enumerate(acked) if reply.status_code != 200}
    assert errors == {
        3: {"code": "lease_lost", "message": f"job {jobs[3]['id']} is not leased with lease L-not-the-lease"},
        5: {"code": "job_not_found", "message": "job j-unknown not found"},
    }, errors
    assert [acked[3].status_code, acked[5].status_code] == [409, 404]
    stats = httpx.get(f"{server.url}/v1/queues/joined/stats").json()
    assert (stats["inflight"], stats["acked_total"]) == (2, 22), stats


def _sample(metrics: str, name: str) -> float:
    [line] = [line for line in metrics.splitlines() if line.startswith(name)]
    return float(line.rsplit(" ", 1)[1])


def test_metrics_are_one_set_of_series_whichever_front_answers(servers: ServerFactory) -> None:
    server = servers.start(*TWO, env=LOGGED)
    with _one_connection_per_front(server) as fronts:
        for client in (fronts["front-0"], fronts["front-1"], fronts["front-0"]):
            _enqueue(client, "counted")
        scrapes = [client.get("/metrics").text for client in fronts.values()]
    for metrics in scrapes:
        assert _sample(metrics, 'rivetq_jobs_enqueued_total{queue="counted"}') == 3
        assert _sample(metrics, 'rivetq_jobs_ready{queue="counted"}') == 3
        route = 'method="POST",route="/v1/queues/{queue}/enqueue",status="201"'
        assert _sample(metrics, f"rivetq_http_request_duration_seconds_count{{{route}}}") == 3


def test_a_deleted_queue_leaves_metrics_through_every_front(servers: ServerFactory) -> None:
    server = servers.start(*TWO, env=LOGGED)
    with _one_connection_per_front(server) as fronts:
        _enqueue(fronts["front-0"], "gone")
        assert 'queue="gone"' in fronts["front-1"].get("/metrics").text
        assert fronts["front-1"].post("/v1/queues/gone/delete", json={}).status_code == 200
        for client in fronts.values():
            assert 'queue="gone"' not in client.get("/metrics").text


def test_a_deleted_schedules_series_leave_metrics_through_every_front(servers: ServerFactory) -> None:
    server = servers.start(*TWO, env=LOGGED)
    with _one_connection_per_front(server) as fronts:
        schedule = {"queue": "ticks", "interval_ms": 1000, "payload": 1}
        assert fronts["front-0"].put("/v1/schedules/tick", json=schedule).status_code == 200
        deadline = time.monotonic() + GONE_WITHIN_S
        while 'rivetq_schedule_runs_total{schedule="tick"}' not in fronts["front-1"].get("/metrics").text:
            assert time.monotonic() < deadline, "the schedule never fired"
            time.sleep(0.2)
        assert fronts["front-1"].delete("/v1/schedules/tick").status_code == 200
        for client in fronts.values():
            assert 'schedule="tick"' not in client.get("/metrics").text


def _wait_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + GONE_WITHIN_S
    while any(is_running(pid) for pid in pids):
        assert time.monotonic() < deadline, f"still running: {pids}"
        time.sleep(0.05)


def _enqueue_until_killed(server: RunningServer, victim: int, queue: str) -> list[str]:
    """Enqueues one job at a time; SIGKILLs ``victim`` after 50 acknowledged; returns the
    ids acknowledged before the first refusal (or 50 more after the kill)."""
    acknowledged: list[str] = []
    with server.client(timeout=5) as client:
        for n in range(400):
            if len(acknowledged) == 50:
                os.kill(victim, signal.SIGKILL)
            try:
                acknowledged.append(_enqueue(client, queue, payload={"n": n}))
            except (httpx.TransportError, AssertionError):
                if len(acknowledged) >= 50:
                    break
            if len(acknowledged) >= 100:
                break
    return acknowledged


def _all_there(server: RunningServer, job_ids: list[str]) -> None:
    with server.client() as client:
        for job_id in job_ids:
            assert client.get(f"/v1/jobs/{job_id}").status_code == 200, job_id


def test_a_killed_front_is_started_again_and_nothing_acknowledged_is_lost(servers: ServerFactory) -> None:
    server = servers.start(*TWO)
    before = server.processes()
    acknowledged = _enqueue_until_killed(server, before["front-0"], "front-killed")
    deadline = time.monotonic() + GONE_WITHIN_S
    while server.processes().get("front-0") in (None, before["front-0"]):
        assert time.monotonic() < deadline, "front-0 was not started again"
        time.sleep(0.05)
    assert server.returncode is None and server.processes()["owner"] == before["owner"]
    _all_there(server, acknowledged)
    assert any(event["event"] == "rivetqd_worker_died" for event in server.log_events())


def test_a_killed_owner_stops_every_process_with_status_1(servers: ServerFactory) -> None:
    server = servers.start(*TWO)
    processes = server.processes()
    acknowledged = _enqueue_until_killed(server, processes["owner"], "owner-killed")
    assert server.process.wait(GONE_WITHIN_S) == 1
    _wait_gone(list(processes.values()))
    events = [event["event"] for event in server.log_events()]
    assert "rivetqd_owner_died" in events and "rivetqd_owner_lost" in events
    _all_there(servers.start(*TWO, data_dir=server.data_dir), acknowledged)


def test_a_killed_supervisor_leaves_no_process_holding_the_port_or_the_lock(tmp_path: Path) -> None:
    same = {"data_dir": tmp_path / "data", "grpc": False, "http_port": free_port()}
    with start_server(tmp_path / "first", *TWO, **same) as first:  # type: ignore[arg-type]
        processes = first.processes()
        acknowledged = _enqueue_until_killed(first, first.pid, "supervisor-killed")
        first.process.wait(GONE_WITHIN_S)
        _wait_gone(list(processes.values()))
    with start_server(tmp_path / "second", *TWO, **same) as second:  # type: ignore[arg-type]
        _all_there(second, acknowledged)


def test_sigterm_ends_a_waiting_long_poll_and_every_process_with_0(servers: ServerFactory) -> None:
    server = servers.start(*TWO)
    processes = server.processes()
    with server.client() as client, concurrent.futures.ThreadPoolExecutor(1) as pool:
        lease = pool.submit(client.post, "/v1/queues/idle/lease", json={"wait_ms": 20_000})
        time.sleep(0.3)
        started = time.monotonic()
        assert server.terminate() == 0
        assert lease.result(timeout=5).json() == {"jobs": []}
    assert time.monotonic() - started < 15  # not the whole long-poll
    _wait_gone(list(processes.values()))


def test_connections_opened_at_once_are_spread_over_the_fronts(servers: ServerFactory) -> None:
    """Each front has its own socket on the port, so a burst of new connections is not
    accepted whole by the front that happens to wake first."""
    server = servers.start(*TWO, env=LOGGED)
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    burst = [socket.create_connection((host, int(port))) for _ in range(32)]  # all queued before any accept
    for sock in burst:
        sock.sendall(f"GET /v1/queues/burst/stats HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    for sock in burst:
        with sock:
            answer = sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 404"), answer
    deadline = time.monotonic() + 5
    while True:
        served = Counter(
            str(event["process"])
            for event in server.log_events()
            if event.get("event") == "http_request" and "/burst/" in str(event.get("path"))
        )
        if sum(served.values()) == len(burst) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert sum(served.values()) == len(burst), served
    assert min(served["front-0"], served["front-1"]) >= 4, served  # fewer: 1 run in 400,000 if the kernel picks fairly


def _refused_beside(server: RunningServer, workers: str, setting: str, addr: str) -> None:
    """A second rivetqd (``workers`` processes) told to listen on ``addr`` exits 1, naming ``setting``."""
    process, log, _, _ = spawn_server(
        server.data_dir.parent / "second",
        "--storage-backend",
        "memory",
        "--workers",
        workers,
        f"--{setting.removeprefix('server.').replace('_', '-')}",
        addr,
    )
    assert process.wait(GONE_WITHIN_S) == 1
    assert f"{setting}: cannot listen on" in log.read_text()


@pytest.mark.parametrize("second", ["1", "2"])
def test_a_second_server_cannot_take_the_http_port(servers: ServerFactory, second: str) -> None:
    server = servers.start(*TWO, grpc=False)
    _refused_beside(server, second, "server.http_addr", server.url.removeprefix("http://"))


@pytest.mark.parametrize(("first", "second"), [("1", "1"), ("1", "2"), ("2", "1"), ("2", "2")])
def test_a_second_server_cannot_take_the_grpc_port(servers: ServerFactory, first: str, second: str) -> None:
    server = servers.start("--workers", first)
    assert server.grpc_target is not None
    _refused_beside(server, second, "server.grpc_addr", server.grpc_target)
