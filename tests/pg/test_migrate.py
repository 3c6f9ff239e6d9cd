"""Schema migrations: idempotent, safe when nodes start together, required before use."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from rivetq.errors import StorageUnavailable
from rivetq.storage.postgres import PostgresStorage, apply_migrations
from rivetq.storage.postgres.migrate import LATEST_VERSION, migrations
from tests.pg.cluster import PgCluster


@pytest.fixture
def empty_database(pg_cluster: PgCluster) -> Iterator[str]:
    dsn = pg_cluster.create_database(template="template0")
    yield dsn
    pg_cluster.drop_database(dsn)


def _applied_versions(dsn: str) -> list[int]:
    with psycopg.connect(dsn) as conn:
        return [row[0] for row in conn.execute("SELECT version FROM rivetq_schema_migrations ORDER BY version")]


async def test_migrate_applies_every_migration_once(empty_database: str) -> None:
    assert await apply_migrations(empty_database) == [m.version for m in migrations()]
    assert await apply_migrations(empty_database) == []
    assert _applied_versions(empty_database) == [m.version for m in migrations()]


async def test_concurrent_migrations_apply_each_version_once(empty_database: str) -> None:
    results = await asyncio.gather(*(apply_migrations(empty_database) for _ in range(5)))
    assert sorted(results) == [[], [], [], [], [m.version for m in migrations()]]
    assert _applied_versions(empty_database) == [m.version for m in migrations()]


async def test_open_refuses_an_unmigrated_database(empty_database: str) -> None:
    storage = PostgresStorage(empty_database)
    with pytest.raises(StorageUnavailable, match="rivetqd migrate"):
        await storage.open()


async def test_open_with_auto_migrate_brings_the_schema_up(empty_database: str) -> None:
    storage = PostgresStorage(empty_database, auto_migrate=True)
    await storage.open()
    try:
        assert await storage.list_queues(now_ms=0) == []
    finally:
        await storage.close()
    assert _applied_versions(empty_database)[-1] == LATEST_VERSION


def test_rivetqd_migrate_command(empty_database: str, tmp_path: Path) -> None:
    rivetqd = str(Path(sys.executable).parent / "rivetqd")
    env = {"RIVETQ_STORAGE_DSN": empty_database, "PATH": "/usr/bin:/bin"}
    first = subprocess.run([rivetqd, "migrate"], env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
    again = subprocess.run([rivetqd, "migrate"], env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert (first.returncode, again.returncode) == (0, 0), first.stderr + again.stderr
    assert f"version {LATEST_VERSION}" in first.stderr
    assert "nothing to do" in again.stderr
    assert _applied_versions(empty_database)[-1] == LATEST_VERSION


def test_a_schema_a_newer_rivetqd_migrated_is_refused_and_not_called_migrated(
    empty_database: str, tmp_path: Path
) -> None:
    asyncio.run(apply_migrations(empty_database))
    with psycopg.connect(empty_database) as conn:
        future = "INSERT INTO rivetq_schema_migrations (version, name) VALUES (%s, 'future')"
        conn.execute(future, (LATEST_VERSION + 1,))
    rivetqd = str(Path(sys.executable).parent / "rivetqd")
    env = {"RIVETQ_STORAGE_DSN": empty_database, "PATH": "/usr/bin:/bin"}
    migrate = subprocess.run([rivetqd, "migrate"], env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert migrate.returncode == 2
    assert f"at version {LATEST_VERSION + 1}, newer than this rivetqd knows ({LATEST_VERSION})" in migrate.stderr
    for auto_migrate in (True, False):
        with pytest.raises(StorageUnavailable, match="downgrades are not supported"):
            asyncio.run(PostgresStorage(empty_database, auto_migrate=auto_migrate).open())


async def test_unreachable_database_is_unavailable_for_migrate(tmp_path: Path) -> None:
    with pytest.raises(StorageUnavailable):
        await apply_migrations("postgresql://postgres@127.0.0.1:1/nothing?connect_timeout=2")


_VERSION_1_STATE = """
INSERT INTO rivetq_queues (queue) VALUES ('q');
INSERT INTO rivetq_jobs (id, queue, payload, priority, eta_ms, max_retries, created_at_ms, state)
SELECT 'job-' || n, 'q', '\\x', 0, 0, 3, 0, s FROM unnest(ARRAY['waiting', 'waiting', 'inflight', 'dead'])
    WITH ORDINALITY AS u(s, n);
INSERT INTO rivetq_counters (queue, slot, enqueued_total, leased_total, acked_total, nacked_total)
VALUES ('q', 0, 6, 4, 3, 1), ('q', 5, 4, 3, 2, 0);
"""


async def test_version_2_keeps_the_counters_counted_by_version_1(empty_database: str) -> None:
    """Version 2 derives enqueue and lease totals from the jobs: a queue's totals read the
    same after the migration as before it."""
    assert await apply_migrations(empty_database, up_to=1) == [1]
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute(_VERSION_1_STATE.encode())
    assert await apply_migrations(empty_database) == [m.version for m in migrations()[1:]]
    storage = PostgresStorage(empty_database)
    await storage.open()
    try:
        stats = await storage.stats("q", now_ms=1)
    finally:
        await storage.close()
    assert stats is not None
    assert (stats.ready, stats.inflight, stats.dlq) == (2, 1, 1)
    counters = stats.counters
    totals = (counters.enqueued_total, counters.leased_total, counters.acked_total, counters.nacked_total)
    assert totals == (10, 7, 5, 1)


_VERSION_5_JOBS = """
INSERT INTO rivetq_queues (queue) VALUES ('q'), ('other');
INSERT INTO rivetq_jobs (id, queue, payload, priority, eta_ms, max_retries, created_at_ms, state, lease_id,
                         lease_expires_at_ms)
SELECT 'job-' || n, CASE WHEN n % 2 = 0 THEN 'q' ELSE 'other' END, '\\x', 0, 0, 3, 0, s,
       CASE WHEN s = 'inflight' THEN 'lease-' || n END, CASE WHEN s = 'inflight' THEN 1000 END
FROM unnest(ARRAY['waiting', 'inflight', 'inflight', 'waiting', 'dead', 'dead', 'waiting', 'waiting'])
    WITH ORDINALITY AS u(s, n);
"""


async def test_version_6_keeps_the_jobs_of_a_version_5_database(empty_database: str) -> None:
    """Version 6 replaces the (queue, id) index: jobs written before it are still listed,
    counted, leased, acked and purged."""
    assert await apply_migrations(empty_database, up_to=5) == [1, 2, 3, 4, 5]
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute(_VERSION_5_JOBS.encode())
    assert await apply_migrations(empty_database) == [m.version for m in migrations()[5:]]
    storage = PostgresStorage(empty_database)
    await storage.open()
    try:
        page = await storage.list_jobs("q", state=None, limit=10, cursor=None, now_ms=1)
        assert [job.id for job in page.jobs] == ["job-2", "job-4", "job-6", "job-8"]
        stats = await storage.stats("q", now_ms=1)
        assert stats is not None and (stats.ready, stats.inflight, stats.dlq) == (2, 1, 1)
        assert await storage.ack("job-2", "lease-2", now_ms=1) == "q"
        leased = await storage.lease("q", max_jobs=5, visibility_ms=1000, now_ms=1, new_lease_id=lambda: "new")
        assert sorted(job.id for job in leased.jobs) == ["job-4", "job-8"]
        assert await storage.purge("q", now_ms=1) == 3
        assert (await storage.list_jobs("q", state=None, limit=10, cursor=None, now_ms=1)).jobs == []
        assert len((await storage.list_jobs("other", state=None, limit=10, cursor=None, now_ms=1)).jobs) == 4
    finally:
        await storage.close()
