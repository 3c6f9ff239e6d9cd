"""The plans PostgreSQL picks for the per-job statements, read with ``EXPLAIN (ANALYZE,
BUFFERS)`` on a real server: what a call costs the database must not grow with the
number of jobs in the table, whatever the planner's statistics say.

Statistics in a queue table are stale by nature: autovacuum's ANALYZE sees one moment,
and the jobs it saw are gone a few seconds later. The case here is the usual one after
a burst: analyzed while every job waited, then thousands leased."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, LiteralString

import psycopg
import pytest

from rivetq.ids import new_lease_id
from rivetq.models import Job, NewJob
from rivetq.storage.postgres import PostgresStorage, transitions
from tests.pg.cluster import PgCluster

T0 = 1_700_000_000_000
DAY_MS = 86_400_000
HELD = 5_000
VISIBILITY_MS = 60_000
# A lookup by primary key reads the index's levels and the heap page: a handful of
# pages, and a write adds its index entries (about 25 in all). Walking the inflight
# index instead reads every held lease (about 100 pages for HELD).
MAX_PAGES = 40


async def _hold_all(dsn: str) -> Job:
    """Insert ``HELD`` jobs, analyze, lease them all; one of them."""
    storage = PostgresStorage(dsn)
    await storage.open()
    try:
        jobs = [NewJob(id=f"job-{n:05d}", payload=b"{}", priority=0, eta_ms=T0, max_retries=3) for n in range(HELD)]
        await storage.insert("q", jobs, now_ms=T0, dedup_window_ms=DAY_MS)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("ANALYZE rivetq_jobs")
        leased = await storage.lease(
            "q", max_jobs=HELD, visibility_ms=VISIBILITY_MS, now_ms=T0, new_lease_id=new_lease_id
        )
    finally:
        await storage.close()
    assert len(leased.jobs) == HELD
    return leased.jobs[HELD // 2]


@pytest.fixture(scope="module")
def held(pg_cluster: PgCluster) -> Iterator[tuple[str, Job]]:
    """A database with ``HELD`` leased jobs, analyzed before the lease, and one of them;
    shared by the tests, which roll their statements back."""
    dsn = pg_cluster.create_database()
    try:
        with ThreadPoolExecutor(1) as pool:  # outside any running event loop
            job = pool.submit(asyncio.run, _hold_all(dsn)).result()
        yield dsn, job
    finally:
        pg_cluster.drop_database(dsn)


def _pages_read(dsn: str, statement: LiteralString, params: dict[str, Any]) -> tuple[int, int]:
    """(pages read, rows changed) by ``statement``, rolled back."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(b"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement.encode(), params).fetchone()
        conn.rollback()
    assert row is not None
    plan = (row[0] if isinstance(row[0], list) else json.loads(row[0]))[0]["Plan"]
    return plan["Shared Hit Blocks"] + plan["Shared Read Blocks"], _changed(plan)


def _changed(plan: dict[str, Any]) -> int:
    if plan.get("Node Type") == "ModifyTable" and plan.get("Relation Name") == "rivetq_jobs":
        return int(plan["Actual Rows"])
    return sum(_changed(child) for child in plan.get("Plans", []))


@pytest.mark.parametrize(
    ("name", "statement", "when"),
    [
        ("ack", transitions._ACK_ONE, T0 + 1),
        ("ack_batch", transitions._ACK_MANY, T0 + 1),
        ("extend", transitions._EXTEND, T0 + 1),
        ("nack", transitions._NACK, T0 + 1),
        ("expiry", transitions._EXPIRE, T0 + VISIBILITY_MS),
    ],
)
def test_a_lease_check_reads_its_job_by_id_whatever_the_statistics(
    held: tuple[str, Job], name: str, statement: LiteralString, when: int
) -> None:
    dsn, job = held
    params = {
        "ids": [job.id],
        "lease_ids": [job.lease_id],
        "id": job.id,
        "lease_id": job.lease_id,
        "now": when,
        "expires": when + VISIBILITY_MS,
        "state": "waiting",
        "eta": when,
        "error": "boom",
    }
    pages, changed = _pages_read(dsn, statement, params)
    assert changed == 1, name
    assert pages <= MAX_PAGES, f"{name} read {pages} pages to find one job among {HELD} held"
