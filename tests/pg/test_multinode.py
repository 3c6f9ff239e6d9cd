"""Three real ``rivetqd`` processes on one PostgreSQL database, driven over REST:
producers and workers spread across the nodes."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.server import RunningServer, ServerFactory
from tests.pg.cluster import PgCluster

pytestmark = pytest.mark.slow

NODES = 3
JOBS = 240
VISIBILITY_MS = 20_000


@pytest.fixture
def nodes(pg_cluster: PgCluster, tmp_path: Path) -> Iterator[list[RunningServer]]:
    dsn = pg_cluster.create_database(template="template0")  # the first node migrates it
    factory = ServerFactory(tmp_path)
    env = {"RIVETQ_STORAGE_DSN": dsn, "RIVETQ_QUEUE_LEASE_CHECK_INTERVAL": "100ms"}
    try:
        yield [factory.start("--storage-backend", "postgres", env=env, grpc=False) for _ in range(NODES)]
    finally:
        factory.kill_all()
        pg_cluster.drop_database(dsn)


def _post(http: httpx.Client, path: str, body: dict[str, Any]) -> Any:
    response = http.post(path, json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


def _lease(http: httpx.Client, queue: str, **body: Any) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = _post(http, f"/v1/queues/{queue}/lease", body)["jobs"]
    return jobs


def _produce(node: RunningServer, queue: str, numbers: range) -> list[str]:
    with node.client() as http:
        return [_post(http, f"/v1/queues/{queue}/enqueue", {"payload": {"n": n}})["job_id"] for n in numbers]


class Deliveries:
    """Every lease handed out and every ack accepted, from all workers."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.leased: list[str] = []
        self.acked: list[str] = []


def _work(node: RunningServer, queue: str, deliveries: Deliveries, stop: threading.Event) -> None:
    with node.client() as http:
        while not stop.is_set():
            jobs = _lease(http, queue, max_jobs=4, visibility_ms=VISIBILITY_MS, wait_ms=200)
            with deliveries.lock:
                deliveries.leased.extend(job["id"] for job in jobs)
            for job in jobs:
                _post(http, "/v1/ack", {"job_id": job["id"], "lease_id": job["lease_id"]})
                with deliveries.lock:
                    deliveries.acked.append(job["id"])
                    if len(deliveries.acked) >= JOBS:
                        stop.set()


def test_nodes_share_queues_without_double_delivery_or_loss(nodes: list[RunningServer]) -> None:
    deliveries, stop = Deliveries(), threading.Event()
    per_node = JOBS // NODES
    with ThreadPoolExecutor(max_workers=2 * NODES + NODES) as pool:
        workers = [pool.submit(_work, nodes[i % NODES], "shared", deliveries, stop) for i in range(2 * NODES)]
        producers = [
            pool.submit(_produce, node, "shared", range(i * per_node, (i + 1) * per_node))
            for i, node in enumerate(nodes)
        ]
        enqueued = [job_id for producer in producers for job_id in producer.result(timeout=60)]
        stop.wait(timeout=60)
        stop.set()
        for worker in workers:
            worker.result(timeout=30)
    assert len(set(enqueued)) == JOBS
    assert Counter(deliveries.leased).most_common(1)[0][1] == 1, "a job was leased twice within its lease"
    assert sorted(deliveries.acked) == sorted(enqueued)
    with nodes[1].client() as http:
        stats = http.get("/v1/queues/shared/stats").json()
    assert (stats["ready"], stats["inflight"], stats["enqueued_total"], stats["acked_total"]) == (0, 0, JOBS, JOBS)


def test_rate_limit_holds_across_nodes(nodes: list[RunningServer]) -> None:
    capacity, rate = 5, 20.0
    _produce(nodes[0], "limited", range(100))
    started = time.monotonic()
    with nodes[0].client() as http:
        _post(http, "/v1/queues/limited/rate_limit", {"capacity": capacity, "refill_rate": rate})
    leased: list[str] = []

    def drain(node: RunningServer) -> None:
        with node.client() as http:
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                jobs = _lease(http, "limited", max_jobs=10, visibility_ms=VISIBILITY_MS)
                leased.extend(job["id"] for job in jobs)

    with ThreadPoolExecutor(max_workers=NODES) as pool:
        list(pool.map(drain, nodes))
    window_s = time.monotonic() - started
    assert 0 < len(leased) <= capacity + rate * window_s, (len(leased), window_s)
    assert len(set(leased)) == len(leased)


def test_long_poll_is_woken_by_an_enqueue_on_another_node(nodes: list[RunningServer]) -> None:
    wait_ms = 20_000
    with ThreadPoolExecutor(max_workers=1) as pool, nodes[0].client() as http:
        _lease(http, "wake", wait_ms=0)  # the queue exists: the poller below waits on it
        started = time.monotonic()
        polling = pool.submit(_lease, http, "wake", wait_ms=wait_ms)
        time.sleep(0.3)  # let the poll park on node 0 before the job arrives
        [job_id] = _produce(nodes[2], "wake", range(1))
        jobs = polling.result(timeout=wait_ms / 1000 + 5)
        elapsed_ms = (time.monotonic() - started) * 1000
    assert [job["id"] for job in jobs] == [job_id]
    assert elapsed_ms < wait_ms / 2, "the poll ended by its timeout, not by the other node's wakeup"


def test_killed_node_leases_come_back_through_another_node(nodes: list[RunningServer]) -> None:
    enqueued = _produce(nodes[0], "crash", range(5))
    with nodes[0].client() as http:
        taken = _lease(http, "crash", max_jobs=5, visibility_ms=1_000)
    assert sorted(job["id"] for job in taken) == sorted(enqueued)
    nodes[0].kill()
    back: list[dict[str, Any]] = []
    with nodes[1].client() as http:
        deadline = time.monotonic() + 15
        while len(back) < len(enqueued) and time.monotonic() < deadline:
            back += _lease(http, "crash", max_jobs=5, visibility_ms=VISIBILITY_MS, wait_ms=2_000)
        for job in back:
            _post(http, "/v1/ack", {"job_id": job["id"], "lease_id": job["lease_id"]})
        stats = http.get("/v1/queues/crash/stats").json()
    assert sorted(job["id"] for job in back) == sorted(enqueued)
    assert {job["tries"] for job in back} == {1}
    assert (stats["ready"], stats["inflight"], stats["acked_total"]) == (0, 0, 5)


def _acked_total(http: httpx.Client, queue: str) -> float:
    line = f'rivetq_jobs_acked_total{{queue="{queue}"}} '
    return sum(float(row.removeprefix(line)) for row in http.get("/metrics").text.splitlines() if row.startswith(line))


def test_a_job_acked_on_another_node_is_not_found_on_the_node_that_leased_it(nodes: list[RunningServer]) -> None:
    """Acks through a node that did not lease the job count in that node's metrics, and
    "acked elsewhere, gone" stays "not found" on the node that leased it, never "lease lost"."""
    with nodes[0].client() as first, nodes[1].client() as second:
        job_ids = [_post(first, "/v1/queues/acks/enqueue", {"payload": n})["job_id"] for n in range(3)]
        jobs = _lease(first, "acks", max_jobs=3)
        acks = [{"job_id": job["id"], "lease_id": job["lease_id"]} for job in jobs]
        assert sorted(a["job_id"] for a in acks) == sorted(job_ids)
        assert second.post("/v1/ack", json=acks[0]).status_code == 200
        results = _post(second, "/v1/ack_batch", {"acks": acks[1:]})["results"]
        assert [(r["ok"], r.get("error_code")) for r in results] == [(True, None), (True, None)]
        assert (_acked_total(first, "acks"), _acked_total(second, "acks")) == (0, 3)
        again = first.post("/v1/ack", json=acks[0])
        assert (again.status_code, again.json()["error"]["code"]) == (404, "job_not_found")
        [result] = _post(first, "/v1/ack_batch", {"acks": acks[:1]})["results"]
        assert (result["ok"], result["error_code"]) == (False, "job_not_found")
