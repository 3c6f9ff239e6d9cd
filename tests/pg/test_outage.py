"""A lost database: calls fail with StorageUnavailable (never half-applied), the pool
and the LISTEN connection recover soon after PostgreSQL is back, nothing acknowledged is
lost, and a node keeps serving /metrics meanwhile.
Also: a change on one node wakes the other node's long polls (LISTEN/NOTIFY)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from rivetq.errors import StorageUnavailable
from rivetq.ids import new_lease_id
from rivetq.models import NewJob
from rivetq.storage.postgres import PostgresStorage
from rivetq.storage.postgres.listen import LISTENER_APPLICATION_NAME
from tests.e2e.server import ServerFactory
from tests.pg.cluster import PgCluster

T0 = 1_700_000_000_000
DAY_MS = 86_400_000
WAKEUP_TIMEOUT_S = 10.0
_probe_numbers = itertools.count(9000)


def _job(n: int) -> NewJob:
    return NewJob(id=f"job-{n:04d}", payload=b'{"n": %d}' % n, priority=5, eta_ms=T0, max_retries=3)


class Wakeups:
    """Records the queues a storage is woken for."""

    def __init__(self) -> None:
        self.queues: asyncio.Queue[str] = asyncio.Queue()

    def __call__(self, queue: str) -> None:
        self.queues.put_nowait(queue)

    async def next_for(self, queue: str) -> None:
        async with asyncio.timeout(WAKEUP_TIMEOUT_S):
            while await self.queues.get() != queue:
                pass


@pytest.fixture
async def two_nodes(fresh_database: str) -> AsyncIterator[tuple[PostgresStorage, PostgresStorage, Wakeups]]:
    one = PostgresStorage(fresh_database, pool_timeout_s=1.0)
    two = PostgresStorage(fresh_database, pool_timeout_s=1.0)
    wakeups = Wakeups()
    two.set_wakeup(wakeups)
    await one.open()
    await two.open()
    try:
        yield one, two, wakeups
    finally:
        await one.close()
        await two.close()


async def _wait_on(node: PostgresStorage, queue: str) -> None:
    """An empty lease: ``node`` waits on ``queue`` now, so other nodes' changes wake it."""
    assert (await node.lease(queue, max_jobs=1, visibility_ms=100, now_ms=T0, new_lease_id=new_lease_id)).jobs == []


async def _listening(two: PostgresStorage, one: PostgresStorage, wakeups: Wakeups) -> None:
    """Insert on ``one`` until ``two`` hears of it: its LISTEN connection is up."""
    probe = f"probe-{next(_probe_numbers)}"  # empty, so that ``two`` waits on it
    await _wait_on(two, probe)
    for _ in range(50):
        await one.insert(probe, [_job(next(_probe_numbers))], now_ms=T0, dedup_window_ms=DAY_MS)
        try:
            async with asyncio.timeout(0.2):
                while await wakeups.queues.get() != probe:
                    pass
            return
        except TimeoutError:
            continue
    raise AssertionError("the second node never heard the first")


async def test_insert_on_one_node_wakes_the_other(two_nodes: tuple[PostgresStorage, PostgresStorage, Wakeups]) -> None:
    one, two, wakeups = two_nodes
    await _listening(two, one, wakeups)
    await _wait_on(two, "emails")
    await one.insert("emails", [_job(1)], now_ms=T0, dedup_window_ms=DAY_MS)
    await wakeups.next_for("emails")
    leased = await one.lease("emails", max_jobs=1, visibility_ms=100, now_ms=T0, new_lease_id=new_lease_id)
    await one.retry(leased.jobs[0].id, leased.jobs[0].lease_id or "", eta_ms=T0, error=None, now_ms=T0 + 1)
    await wakeups.next_for("emails")


async def test_lost_database_is_unavailable_then_recovers(
    pg_cluster: PgCluster, two_nodes: tuple[PostgresStorage, PostgresStorage, Wakeups]
) -> None:
    one, two, wakeups = two_nodes
    await _listening(two, one, wakeups)
    acknowledged = await one.insert("emails", [_job(n) for n in range(1, 11)], now_ms=T0, dedup_window_ms=DAY_MS)
    pg_cluster.stop("fast")
    try:
        with pytest.raises(StorageUnavailable):
            await one.insert("emails", [_job(11)], now_ms=T0, dedup_window_ms=DAY_MS)
        with pytest.raises(StorageUnavailable):
            await one.lease("emails", max_jobs=5, visibility_ms=1000, now_ms=T0, new_lease_id=new_lease_id)
        assert one.unavailable_reason() is not None
    finally:
        pg_cluster.start()
    await _recovered(one)
    assert one.unavailable_reason() is None
    stats = await one.stats("emails", now_ms=T0)
    assert stats is not None
    assert stats.ready == len(acknowledged) == 10
    await _recovered(two)  # idle through the outage, its pooled connections broke too
    await _listening(two, one, wakeups)  # the listener reconnected too


OUTAGE_S = 16.0
RECOVERY_BOUND_S = 6.0  # the delays between reconnect attempts stay at 1-2 s


def test_a_node_rides_out_a_long_outage_and_is_back_within_seconds(
    pg_cluster: PgCluster, fresh_database: str, tmp_path: Path
) -> None:
    """During the outage: 503 for calls, and /metrics still answers. After it: the pool's
    reconnect delay used to double for as long as the database was away (1, 2, 4, 8,
    16 s...), so after a 16 s outage the node stayed unavailable ~15 s more."""
    factory = ServerFactory(tmp_path)
    node = factory.start("--storage-backend", "postgres", env={"RIVETQ_STORAGE_DSN": fresh_database}, grpc=False)
    enqueue = ("/v1/queues/emails/enqueue", {"payload": 1})
    try:
        with node.client() as http:
            assert http.post(enqueue[0], json=enqueue[1]).status_code == 201
            pg_cluster.stop("fast")
            try:
                ends = time.monotonic() + OUTAGE_S
                while time.monotonic() < ends:  # requests keep coming during the outage
                    refused = http.post(enqueue[0], json=enqueue[1])
                    assert (refused.status_code, refused.json()["error"]["code"]) == (503, "storage_unavailable")
                    time.sleep(0.5)
                metrics = http.get("/metrics")
                assert metrics.status_code == 200 and 'status="503"' in metrics.text
                assert "rivetq_jobs_ready{" not in metrics.text
            finally:
                pg_cluster.start()
            back = time.monotonic()
            while http.post(enqueue[0], json=enqueue[1]).status_code != 201:
                assert time.monotonic() - back < RECOVERY_BOUND_S, "the node is still unavailable"
                time.sleep(0.1)
    finally:
        factory.kill_all()


async def _recovered(storage: PostgresStorage) -> None:
    """Retry a read until the pool has replaced its broken connections."""
    for _ in range(100):
        try:
            await storage.stats("emails", now_ms=T0)
            return
        except StorageUnavailable:
            await asyncio.sleep(0.1)
    raise AssertionError("the storage did not recover after PostgreSQL came back")


async def test_each_new_loss_of_the_listen_connection_is_retried_after_the_shortest_delay(
    fresh_database: str, two_nodes: tuple[PostgresStorage, PostgresStorage, Wakeups], caplog: pytest.LogCaptureFixture
) -> None:
    """The reconnect backoff grows within one outage, not across separate ones: it used to
    climb to 5 s over a few blips and leave long polls asleep that long after each."""
    one, two, wakeups = two_nodes
    await _listening(two, one, wakeups)
    caplog.set_level(logging.WARNING, logger="rivetq.storage.postgres")
    for _ in range(4):
        async with await psycopg.AsyncConnection.connect(fresh_database, autocommit=True) as admin:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = %s AND datname = current_database()",
                (LISTENER_APPLICATION_NAME,),
            )
        await _listening(two, one, wakeups)
    delays = [record.args[1] for record in caplog.records if "listener lost its connection" in record.getMessage()]
    assert len(delays) >= 4 and set(delays) == {0.1}
