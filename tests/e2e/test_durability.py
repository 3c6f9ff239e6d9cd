"""Durability of rivetqd on the embedded engine (fsync on): crashes (SIGKILL) lose no
acknowledged change, restarts keep every kind of state, a torn WAL tail is cut with a
warning."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.server import RunningServer, ServerFactory, spawn_server

pytestmark = pytest.mark.slow

WORKERS = 8
BATCH = 5
KILL_AFTER_ACKNOWLEDGED = 400
JSON = {"Content-Type": "application/json"}


def _all_jobs(client: httpx.Client, queue: str, path: str = "jobs") -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/v1/queues/{queue}/{path}", params=params).json()
        jobs += page["jobs"]
        cursor = page["next_cursor"]
        if cursor is None:
            return jobs


async def _clients(server: RunningServer, client: Callable[[httpx.AsyncClient, int], Awaitable[None]]) -> None:
    """``WORKERS`` copies of ``client`` at once, sharing one connection pool."""
    async with httpx.AsyncClient(base_url=server.url, headers=JSON, timeout=10) as http:
        await asyncio.gather(*(client(http, worker) for worker in range(WORKERS)))


def _after_a_crash_under(
    load: Callable[[], Coroutine[Any, Any, None]], servers: ServerFactory, server: RunningServer, queue: str
) -> list[dict[str, Any]]:
    """Runs ``load`` until it has SIGKILLed ``server``; the jobs of ``queue`` after a restart."""
    asyncio.run(load())
    server.process.wait(20)
    restarted = servers.start(data_dir=server.data_dir, grpc=False)
    with restarted.client() as client:
        return _all_jobs(client, queue)


class _Load:
    """Concurrent single and batch enqueues until the server dies under them."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.acknowledged: list[str] = []
        self._batches = 0

    async def run(self) -> None:
        await _clients(self.server, self._worker)

    async def _worker(self, http: httpx.AsyncClient, worker: int) -> None:
        for n in range(1_000_000):
            try:
                if n % 4 == 3:
                    await self._enqueue_batch(http)
                else:
                    response = await http.post("/v1/queues/load/enqueue", json={"payload": {"w": worker, "n": n}})
                    if response.status_code == 201:
                        self.acknowledged.append(response.json()["job_id"])
            except httpx.TransportError:
                return
            if len(self.acknowledged) >= KILL_AFTER_ACKNOWLEDGED and self.server.returncode is None:
                self.server.process.send_signal(signal.SIGKILL)

    async def _enqueue_batch(self, http: httpx.AsyncClient) -> None:
        self._batches += 1
        jobs = [{"payload": {"batch": self._batches, "i": i}} for i in range(BATCH)]
        response = await http.post("/v1/queues/load/enqueue_batch", json={"jobs": jobs})
        if response.status_code == 201:
            self.acknowledged += response.json()["job_ids"]


def test_sigkill_under_concurrent_enqueue_load_loses_no_acknowledged_job(servers: ServerFactory) -> None:
    server = servers.start(grpc=False)
    load = _Load(server)
    jobs = _after_a_crash_under(load.run, servers, server, "load")
    assert len(load.acknowledged) >= KILL_AFTER_ACKNOWLEDGED
    assert set(load.acknowledged) <= {job["id"] for job in jobs}
    batch_sizes = Counter(job["payload"]["batch"] for job in jobs if "batch" in job["payload"])
    assert set(batch_sizes.values()) <= {BATCH}, "a batch was half applied"


class _AckingConsumers:
    """Consumers whose every lease carries the ack of the job they leased before, until
    the server dies under them: what each reply acknowledged is recorded."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.acked: set[str] = set()  # reported ok in a reply's acks
        self.held: dict[str, str] = {}  # leased by a reply, no ack sent since: job id -> lease id

    async def run(self) -> None:
        await _clients(self.server, self._consumer)

    async def _consumer(self, http: httpx.AsyncClient, worker: int) -> None:
        finished: list[dict[str, str]] = []
        while True:
            for ack in finished:  # from here on a kill may or may not have acked it
                del self.held[ack["job_id"]]
            try:
                response = await http.post("/v1/queues/drain/lease", json={"acks": finished})
            except httpx.TransportError:
                return
            assert response.status_code == 200, response.text
            reply = response.json()
            for result in reply["acks"]:
                assert result["ok"], result
                self.acked.add(result["job_id"])
            finished = [{"job_id": job["id"], "lease_id": job["lease_id"]} for job in reply["jobs"]]
            self.held.update((job["id"], job["lease_id"]) for job in reply["jobs"])
            if len(self.acked) >= KILL_AFTER_ACKNOWLEDGED and self.server.returncode is None:
                self.server.process.send_signal(signal.SIGKILL)


def test_sigkill_while_leases_carry_acks_loses_neither_an_ack_nor_a_lease(servers: ServerFactory) -> None:
    server = servers.start(grpc=False)
    with server.client() as client:
        for start in range(0, 2000, 500):
            jobs = [{"payload": n} for n in range(start, start + 500)]
            assert client.post("/v1/queues/drain/enqueue_batch", json={"jobs": jobs}).status_code == 201
    load = _AckingConsumers(server)
    present = {job["id"]: job for job in _after_a_crash_under(load.run, servers, server, "drain")}
    assert len(load.acked) >= KILL_AFTER_ACKNOWLEDGED
    assert not load.acked & present.keys(), "an acknowledged ack was lost"
    for job_id, lease_id in load.held.items():
        assert (present[job_id]["state"], present[job_id]["lease_id"]) == ("inflight", lease_id)


def _build_state(client: httpx.Client) -> dict[str, Any]:
    """A leased job, a delayed job, a dead job, an idempotency key, a drained rate limit
    and a paused queue."""
    state: dict[str, Any] = {}
    state["keyed"] = client.post("/v1/queues/s/enqueue", json={"payload": 0, "idempotency_key": "k-1"}).json()
    client.post("/v1/queues/s/enqueue", json={"payload": 1, "priority": 9})
    [state["leased"]] = client.post("/v1/queues/s/lease", json={"visibility_ms": 3_600_000}).json()["jobs"]
    state["delayed"] = client.post("/v1/queues/s/enqueue", json={"payload": 2, "delay_ms": 3_600_000}).json()
    client.post("/v1/queues/s/enqueue", json={"payload": 3, "priority": 9, "max_retries": 0})
    [doomed] = client.post("/v1/queues/s/lease", json={}).json()["jobs"]
    nack = {"job_id": doomed["id"], "lease_id": doomed["lease_id"], "reason": "boom"}
    assert client.post("/v1/nack", json=nack).json()["state"] == "dead"
    state["dead"] = doomed["id"]
    for n in range(3):
        client.post("/v1/queues/limited/enqueue", json={"payload": n})
    client.post("/v1/queues/limited/rate_limit", json={"capacity": 2, "refill_rate": 0.0001})
    assert len(client.post("/v1/queues/limited/lease", json={"max_jobs": 3}).json()["jobs"]) == 2
    client.post("/v1/queues/paused/enqueue", json={"payload": 4})
    client.post("/v1/queues/paused/pause")
    return state


@pytest.mark.parametrize("stop", ["kill", "terminate"])
def test_restart_keeps_leased_delayed_dead_keyed_rate_limited_and_paused_state(
    servers: ServerFactory, stop: str
) -> None:
    server = servers.start(grpc=False)
    with server.client() as client:
        state = _build_state(client)
    server.kill() if stop == "kill" else server.terminate()
    restarted = servers.start(data_dir=server.data_dir, grpc=False)
    with restarted.client() as client:
        leased = client.get(f"/v1/jobs/{state['leased']['id']}").json()
        assert (leased["state"], leased["lease_id"]) == ("inflight", state["leased"]["lease_id"])
        assert client.get(f"/v1/jobs/{state['delayed']['job_id']}").json()["state"] == "delayed"
        [dead] = _all_jobs(client, "s", "dlq")
        assert (dead["id"], dead["last_error"]) == (state["dead"], "boom")
        again = client.post("/v1/queues/s/enqueue", json={"payload": 0, "idempotency_key": "k-1"})
        assert (again.status_code, again.json()) == (200, {"job_id": state["keyed"]["job_id"], "duplicate": True})
        limit = client.get("/v1/queues/limited/rate_limit").json()
        assert limit == {"capacity": 2.0, "refill_rate": 0.0001, "exists": True}
        assert client.post("/v1/queues/limited/lease", json={}).json() == {"jobs": []}, "the bucket refilled"
        assert client.post("/v1/queues/paused/lease", json={}).json() == {"jobs": []}
        ack = {"job_id": state["leased"]["id"], "lease_id": state["leased"]["lease_id"]}
        assert client.post("/v1/ack", json=ack).status_code == 200


def test_torn_wal_tail_is_cut_with_a_warning_and_the_server_starts(servers: ServerFactory) -> None:
    server = servers.start(grpc=False)
    with server.client() as client:
        ids = [client.post("/v1/queues/t/enqueue", json={"payload": n}).json()["job_id"] for n in range(5)]
    server.kill()
    last_segment = sorted((server.data_dir / "wal").glob("*.wal"))[-1]
    valid_end = len(last_segment.read_bytes().rstrip(b"\0"))
    with last_segment.open("r+b") as segment:
        segment.seek(valid_end)
        segment.write(b"\x40\x00\x00\x00torn-record-garbage")
    restarted = servers.start(data_dir=server.data_dir, grpc=False)
    warnings = [event for event in restarted.log_events() if event["level"] == "warning"]
    assert any("torn tail" in event["event"] and last_segment.name in event["event"] for event in warnings)
    with restarted.client() as client:
        assert [client.get(f"/v1/jobs/{job_id}").status_code for job_id in ids] == [200] * 5
        assert client.post("/v1/queues/t/enqueue", json={"payload": 5}).status_code == 201


def test_corruption_before_the_tail_stops_startup_naming_the_file(servers: ServerFactory, tmp_path: Path) -> None:
    server = servers.start(grpc=False)
    with server.client() as client:
        for n in range(20):
            client.post("/v1/queues/c/enqueue", json={"payload": {"n": n, "pad": "x" * 100}})
    server.kill()
    first_segment = sorted((server.data_dir / "wal").glob("*.wal"))[0]
    with first_segment.open("r+b") as segment:
        segment.seek(40)
        byte = segment.read(1)
        segment.seek(40)
        segment.write(bytes([byte[0] ^ 0xFF]))
    process, log_path, _, _ = spawn_server(tmp_path / "again", data_dir=server.data_dir, grpc=False)
    assert process.wait(20) == 1
    [failure] = [line for line in log_path.read_text().splitlines() if "rivetqd_startup_failed" in line]
    assert first_segment.name in failure
