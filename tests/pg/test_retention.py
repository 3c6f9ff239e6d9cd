"""No table grows without bound: acked jobs are deleted, and idempotency keys older
than the dedup window are purged."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import psycopg
import pytest

from rivetq.ids import new_lease_id
from rivetq.models import NewJob
from rivetq.storage.postgres import PostgresStorage, backend
from tests.pg.cluster import PgCluster

T0 = 1_700_000_000_000
WINDOW_MS = 3_600_000


def _job(n: int, key: str | None = None) -> NewJob:
    return NewJob(id=f"job-{n:04d}", payload=b"{}", priority=5, eta_ms=T0, max_retries=3, idempotency_key=key)


@pytest.fixture
async def storage(pg_cluster: PgCluster) -> AsyncIterator[tuple[PostgresStorage, str]]:
    dsn = pg_cluster.scratch_dsn()
    opened = PostgresStorage(dsn)
    await opened.open()
    yield opened, dsn
    await opened.close()


def _count(dsn: str, table: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}".encode()).fetchone()
    assert row is not None
    return int(row[0])


async def test_acked_jobs_leave_no_row(storage: tuple[PostgresStorage, str]) -> None:
    store, dsn = storage
    await store.insert("emails", [_job(n) for n in range(5)], now_ms=T0, dedup_window_ms=WINDOW_MS)
    leased = await store.lease("emails", max_jobs=5, visibility_ms=1000, now_ms=T0, new_lease_id=new_lease_id)
    await store.ack_batch([(job.id, job.lease_id or "") for job in leased.jobs], now_ms=T0)
    assert _count(dsn, "rivetq_jobs") == 0


async def test_keys_past_the_window_are_purged(storage: tuple[PostgresStorage, str]) -> None:
    store, dsn = storage
    old = [_job(n, key=f"k{n}") for n in range(20)]
    await store.insert("emails", old, now_ms=T0, dedup_window_ms=WINDOW_MS)
    assert _count(dsn, "rivetq_idempotency") == 20
    later = T0 + WINDOW_MS + 1
    await store.insert("emails", [_job(100, key="fresh")], now_ms=later, dedup_window_ms=WINDOW_MS)
    assert _count(dsn, "rivetq_idempotency") == 1


async def test_counter_rows_of_ended_connections_are_folded_into_one(
    storage: tuple[PostgresStorage, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, dsn = storage
    for n in range(3):  # each on a connection of its own, closed after
        other = PostgresStorage(dsn, min_pool_size=1, max_pool_size=1)
        await other.open()
        await other.insert("q", [_job(n)], now_ms=T0, dedup_window_ms=WINDOW_MS)
        (job,) = (await other.lease("q", max_jobs=1, visibility_ms=60_000, now_ms=T0, new_lease_id=new_lease_id)).jobs
        await other.ack(job.id, job.lease_id or "", now_ms=T0)
        await other.close()
    assert _count(dsn, "rivetq_counters") == 3  # one row per connection that counted
    monkeypatch.setattr(backend, "_COUNTER_FOLD_INTERVAL_S", 0.05)
    folding = PostgresStorage(dsn)
    await folding.open()
    try:
        for _ in range(200):  # the ended backends leave pg_stat_activity soon
            if _count(dsn, "rivetq_counters") == 1:
                break
            await asyncio.sleep(0.05)
        assert _count(dsn, "rivetq_counters") == 1
        stats = await folding.stats("q", now_ms=T0)
    finally:
        await folding.close()
    assert stats is not None
    assert (stats.counters.enqueued_total, stats.counters.leased_total, stats.counters.acked_total) == (3, 3, 3)
