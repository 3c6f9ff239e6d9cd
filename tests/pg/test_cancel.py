"""``QueueManager.stop()`` ends its background loops on PostgreSQL even when a
cancellation lands in a query: psycopg may swallow it (it cancels the query on the
server, then returns), and the loop then slept out its whole period, so stop() hung."""

from __future__ import annotations

import asyncio

from rivetq.clock import FakeClock
from rivetq.manager import ManagerOptions, QueueManager
from rivetq.storage.postgres import PostgresStorage
from tests.manager.support import job
from tests.pg.cluster import PgCluster

LONG_MS = 3_600_000


async def test_stop_ends_the_loops_while_they_query(pg_cluster: PgCluster) -> None:
    for _ in range(5):
        storage = PostgresStorage(pg_cluster.scratch_dsn(), min_pool_size=1, max_pool_size=4)
        await storage.open()
        options = ManagerOptions(lease_check_interval_ms=LONG_MS, schedule_check_interval_ms=LONG_MS)
        manager = QueueManager(storage, clock=FakeClock(), options=options)
        await manager.start()
        await manager.enqueue("q", job())  # the loops' first queries are in flight now
        try:
            await asyncio.wait_for(manager.stop(), 10)
        finally:
            await storage.close()
