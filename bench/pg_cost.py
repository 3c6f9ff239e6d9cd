"""What each PostgreSQL-backend operation costs the database, beside the plain
``FOR UPDATE SKIP LOCKED`` queue of the peer harness (../shared/bench/peers) doing the
same job on the same server, in the same run:

    .venv/bin/python bench/pg_cost.py --jobs 2000 --concurrency 8

Starts its own PostgreSQL 15 (fsync on, synchronous_commit on, pg_stat_statements,
autovacuum off so that its work does not land in one operation's figures, but ANALYZE
before each phase, as autovacuum would have by then) and stops it at the end. The
storage layer is called directly (``PostgresStorage``, what one API call asks of it),
so the figures are the database's share, without HTTP. See bench/pg_probe.py for how
each figure is read. Then a throughput pass without the
proxy: enqueue, then lease + ack, ``--concurrency`` callers each."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.pg_probe import Cost, CostMeter, RoundTripProxy
from rivetq.ids import new_job_id, new_lease_id
from rivetq.manager_reaper import fail_attempt
from rivetq.models import Job, NewJob
from rivetq.storage.postgres import PostgresStorage
from tests.pg.cluster import PG_BIN, PgCluster

BATCH = 100
PAYLOAD = b'{"seq": 0, "t": 0.0, "pad": "' + b"x" * 70 + b'"}'  # ~100 bytes, as the harness's job

SKIP_SCHEMA = """
CREATE TABLE jobs (
    id               bigserial PRIMARY KEY,
    queue            text        NOT NULL,
    priority         smallint    NOT NULL DEFAULT 0,
    run_at           timestamptz NOT NULL DEFAULT now(),
    state            smallint    NOT NULL DEFAULT 0,
    attempts         smallint    NOT NULL DEFAULT 0,
    max_attempts     smallint    NOT NULL DEFAULT 3,
    lease_expires_at timestamptz,
    payload          jsonb       NOT NULL
);
CREATE INDEX jobs_fetch_idx ON jobs (queue, priority DESC, run_at, id) WHERE state = 0;
CREATE FUNCTION jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('bench_jobs', ''); RETURN NULL; END $$;
CREATE TRIGGER jobs_notify AFTER INSERT ON jobs FOR EACH STATEMENT EXECUTE FUNCTION jobs_notify();
"""
SKIP_ENQUEUE = "INSERT INTO jobs (queue, priority, max_attempts, payload) VALUES (%s, 0, 3, %s::jsonb) RETURNING id"
SKIP_CLAIM = """
UPDATE jobs SET state = 1, attempts = attempts + 1, lease_expires_at = now() + interval '30 seconds'
 WHERE id = (SELECT id FROM jobs WHERE queue = %s AND state = 0 AND run_at <= now()
             ORDER BY priority DESC, run_at, id FOR UPDATE SKIP LOCKED LIMIT 1)
RETURNING id, payload"""
SKIP_ACK = "DELETE FROM jobs WHERE id = %s"


@dataclass(frozen=True)
class Row:
    system: str
    operation: str
    calls: int
    jobs: int
    cost: Cost
    seconds: float


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _new_jobs(count: int) -> list[NewJob]:
    now_ms = _now_ms()
    return [
        NewJob(id=new_job_id(now_ms), payload=PAYLOAD, priority=0, eta_ms=now_ms, max_retries=1000)
        for _ in range(count)
    ]


async def _fan_out(items: Iterator[object], concurrency: int, call: Callable[[object], Awaitable[None]]) -> None:
    """Run ``call`` on every item, ``concurrency`` callers at a time (a closed loop each)."""

    async def worker() -> None:
        for item in items:
            await call(item)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


class Bench:
    def __init__(self, meter: CostMeter, concurrency: int) -> None:
        self.meter = meter
        self.concurrency = concurrency
        self.rows: list[Row] = []

    async def measure(
        self, system: str, operation: str, items: list[object], jobs: int, call: Callable[[object], Awaitable[None]]
    ) -> None:
        await self.meter.analyze()
        start = await self.meter.mark()
        started = time.perf_counter()
        await _fan_out(iter(items), self.concurrency, call)
        seconds = time.perf_counter() - started
        end = await self.meter.mark()
        self.rows.append(Row(system, operation, len(items), jobs, await self.meter.cost(start, end), seconds))


async def _lease_all(storage: PostgresStorage, queue: str, visibility_ms: int = 600_000) -> list[Job]:
    leased: list[Job] = []
    while batch := (
        await storage.lease(
            queue, max_jobs=BATCH, visibility_ms=visibility_ms, now_ms=_now_ms(), new_lease_id=new_lease_id
        )
    ).jobs:
        leased += batch
    return leased


def _batches(jobs: list[NewJob]) -> list[object]:
    return [jobs[i : i + BATCH] for i in range(0, len(jobs), BATCH)]


async def _rivetq_singles(bench: Bench, storage: PostgresStorage, n: int) -> None:
    name = "RivetQ"

    async def enqueue(job: object) -> None:
        assert isinstance(job, NewJob)
        await storage.insert("a", [job], now_ms=_now_ms(), dedup_window_ms=60_000)

    leased: list[object] = []

    async def lease(_: object) -> None:
        now_ms = _now_ms()
        result = await storage.lease("a", max_jobs=1, visibility_ms=600_000, now_ms=now_ms, new_lease_id=new_lease_id)
        leased.extend(result.jobs)

    async def ack(job: object) -> None:
        assert isinstance(job, Job) and job.lease_id is not None
        await storage.ack(job.id, job.lease_id, now_ms=_now_ms())

    await bench.measure(name, "enqueue", list(_new_jobs(n)), n, enqueue)
    await bench.measure(name, "lease (1 job)", [None] * n, n, lease)
    await bench.measure(name, "ack", list(leased), n, ack)


async def _rivetq_batches(bench: Bench, storage: PostgresStorage, n: int) -> None:
    name = "RivetQ"

    async def enqueue_batch(jobs: object) -> None:
        assert isinstance(jobs, list)
        await storage.insert("b", jobs, now_ms=_now_ms(), dedup_window_ms=60_000)

    leased: list[Job] = []

    async def lease_100(_: object) -> None:
        now_ms = _now_ms()
        result = await storage.lease(
            "b", max_jobs=BATCH, visibility_ms=600_000, now_ms=now_ms, new_lease_id=new_lease_id
        )
        leased.extend(result.jobs)

    async def extend(job: object) -> None:
        assert isinstance(job, Job) and job.lease_id is not None
        now_ms = _now_ms()
        await storage.extend(job.id, job.lease_id, expires_at_ms=now_ms + 600_000, now_ms=now_ms)

    async def ack_batch(jobs: object) -> None:
        assert isinstance(jobs, list)
        await storage.ack_batch([(j.id, j.lease_id) for j in jobs], now_ms=_now_ms())

    await bench.measure(name, "enqueue_batch (100)", _batches(_new_jobs(n)), n, enqueue_batch)
    await bench.measure(name, "lease (100 jobs)", [None] * (n // BATCH), n, lease_100)
    await bench.measure(name, "extend", list(leased), n, extend)
    await bench.measure(name, "ack_batch (100)", [leased[i : i + BATCH] for i in range(0, n, BATCH)], n, ack_batch)


async def _rivetq_failures(bench: Bench, storage: PostgresStorage, n: int) -> None:
    name = "RivetQ"
    rng = random.Random(1)

    async def nack(job: object) -> None:
        assert isinstance(job, Job) and job.lease_id is not None
        await fail_attempt(storage, rng, job, job.lease_id, error="boom", now_ms=_now_ms())

    await storage.insert("c", _new_jobs(n), now_ms=_now_ms(), dedup_window_ms=60_000)
    await bench.measure(name, "nack (backoff from queue policy)", list(await _lease_all(storage, "c")), n, nack)

    await storage.insert("d", _new_jobs(n), now_ms=_now_ms(), dedup_window_ms=60_000)
    await _lease_all(storage, "d", visibility_ms=1)
    await asyncio.sleep(0.01)

    async def reap(_: object) -> None:
        now_ms = _now_ms()
        while expired := await storage.expired_leases(now_ms=now_ms, limit=BATCH):
            for job in expired:
                await fail_attempt(
                    storage, rng, job, job.lease_id or "", error="lease expired", now_ms=now_ms, expired=True
                )

    await bench.meter.analyze()
    start = await bench.meter.mark()
    started = time.perf_counter()
    await reap(None)  # the reaper is one loop per node
    seconds = time.perf_counter() - started
    bench.rows.append(
        Row(name, "reaper (per expired lease)", n, n, await bench.meter.cost(start, await bench.meter.mark()), seconds)
    )


class SkipLockedQueue:
    """The peer harness's queue: one autocommit connection per caller."""

    def __init__(self, dsn: str, concurrency: int) -> None:
        self._dsn = dsn
        self._concurrency = concurrency
        self._free: asyncio.Queue[psycopg.AsyncConnection[tuple[object, ...]]] = asyncio.Queue()

    @staticmethod
    async def create_schema(dsn: str) -> None:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            await conn.execute(SKIP_SCHEMA.encode())

    async def open(self) -> None:
        for _ in range(self._concurrency):
            self._free.put_nowait(await psycopg.AsyncConnection.connect(self._dsn, autocommit=True))

    async def close(self) -> None:
        while not self._free.empty():
            await self._free.get_nowait().close()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[tuple[object, ...]]]:
        conn = await self._free.get()
        try:
            yield conn
        finally:
            self._free.put_nowait(conn)

    async def enqueue(self, queue: str) -> None:
        async with self._connection() as conn:
            await (await conn.execute(SKIP_ENQUEUE, (queue, PAYLOAD.decode()))).fetchone()

    async def lease(self, queue: str) -> int | None:
        async with self._connection() as conn:
            row = await (await conn.execute(SKIP_CLAIM, (queue,))).fetchone()
        return None if row is None else int(row[0])

    async def ack(self, job_id: int) -> None:
        async with self._connection() as conn:
            await conn.execute(SKIP_ACK, (job_id,))


async def _skip_locked(bench: Bench, queue: SkipLockedQueue, n: int) -> None:
    name = "SKIP LOCKED"
    leased: list[object] = []

    async def enqueue(_: object) -> None:
        await queue.enqueue("a")

    async def lease(_: object) -> None:
        if (job_id := await queue.lease("a")) is not None:
            leased.append(job_id)

    async def ack(job_id: object) -> None:
        assert isinstance(job_id, int)
        await queue.ack(job_id)

    await bench.measure(name, "enqueue", [None] * n, n, enqueue)
    await bench.measure(name, "lease (1 job)", [None] * n, n, lease)
    await bench.measure(name, "ack", leased, n, ack)


@asynccontextmanager
async def _listening(dsn: str) -> AsyncIterator[None]:
    """The harness's LISTEN connection, so that its notifications are delivered somewhere."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute("LISTEN bench_jobs")

        async def drain() -> None:
            async for _ in conn.notifies():
                pass

        task = asyncio.create_task(drain())
        try:
            yield
        finally:
            task.cancel()


async def _rate(n: int, concurrency: int, call: Callable[[object], Awaitable[bool]]) -> float:
    """Jobs/s of ``call`` (true when it did a job) run until ``n`` jobs are done."""
    done = 0

    async def worker() -> None:
        nonlocal done
        while done < n:
            if await call(None):
                done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - started)


async def _throughput_rivetq(storage: PostgresStorage, concurrency: int, n: int) -> tuple[float, float]:
    async def enqueue(_: object) -> bool:
        (job,) = _new_jobs(1)
        await storage.insert("t", [job], now_ms=_now_ms(), dedup_window_ms=60_000)
        return True

    async def lease_ack(_: object) -> bool:
        now_ms = _now_ms()
        result = await storage.lease("t", max_jobs=1, visibility_ms=600_000, now_ms=now_ms, new_lease_id=new_lease_id)
        for job in result.jobs:
            await storage.ack(job.id, job.lease_id or "", now_ms=_now_ms())
        return bool(result.jobs)

    return await _rate(n, concurrency, enqueue), await _rate(n, concurrency, lease_ack)


async def _throughput_skip_locked(queue: SkipLockedQueue, concurrency: int, n: int) -> tuple[float, float]:
    async def enqueue(_: object) -> bool:
        await queue.enqueue("t")
        return True

    async def lease_ack(_: object) -> bool:
        job_id = await queue.lease("t")
        if job_id is not None:
            await queue.ack(job_id)
        return job_id is not None

    return await _rate(n, concurrency, enqueue), await _rate(n, concurrency, lease_ack)


@dataclass(frozen=True)
class Setup:
    cluster: PgCluster
    rivetq_db: str
    skip_db: str


def _launch() -> Setup:
    cluster = PgCluster.launch()
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
        conn.execute("ALTER SYSTEM SET autovacuum = off")
        conn.execute("ALTER SYSTEM SET max_wal_size = '4GB'")
        conn.execute("ALTER SYSTEM SET checkpoint_timeout = '1h'")
    cluster.stop()
    cluster.start()
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_stat_statements")
    rivetq_db = cluster.create_database()
    skip_db = cluster.create_database(template="template0")
    return Setup(cluster, rivetq_db.rsplit("/", 1)[1], skip_db.rsplit("/", 1)[1])


def _proxied(proxy: RoundTripProxy, database: str) -> str:
    return f"postgresql://postgres@127.0.0.1:{proxy.port}/{database}"


async def _costs(setup: Setup, args: argparse.Namespace) -> list[Row]:
    proxy = RoundTripProxy(setup.cluster.port)
    await proxy.start()
    rows: list[Row] = []
    try:
        for database, run in ((setup.rivetq_db, _run_rivetq), (setup.skip_db, _run_skip_locked)):
            meter = CostMeter(setup.cluster.dsn(), database, setup.cluster.data, PG_BIN, proxy)
            bench = Bench(meter, args.concurrency)
            await run(bench, _proxied(proxy, database), args)
            rows += bench.rows
    finally:
        await proxy.stop()
    return rows


class RoundRobin:
    """Several nodes (``PostgresStorage`` instances) on one database, taking turns call by call."""

    def __init__(self, nodes: list[PostgresStorage]) -> None:
        self._turns = itertools.cycle(nodes)

    def __getattr__(self, name: str) -> object:
        return getattr(next(self._turns), name)


async def _run_rivetq(bench: Bench, dsn: str, args: argparse.Namespace) -> None:
    nodes = [PostgresStorage(dsn, max_pool_size=args.concurrency + 2) for _ in range(args.nodes)]
    for node in nodes:
        await node.open()
    storage: Any = nodes[0] if len(nodes) == 1 else RoundRobin(nodes)
    try:
        await _rivetq_singles(bench, storage, args.jobs)
        await _rivetq_batches(bench, storage, args.jobs)
        await _rivetq_failures(bench, storage, args.jobs)
    finally:
        for node in nodes:
            await node.close()


async def _run_skip_locked(bench: Bench, dsn: str, args: argparse.Namespace) -> None:
    await SkipLockedQueue.create_schema(dsn)
    queue = SkipLockedQueue(dsn, args.concurrency)
    await queue.open()
    try:
        async with _listening(dsn):
            await _skip_locked(bench, queue, args.jobs)
    finally:
        await queue.close()


async def _throughputs(setup: Setup, args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    rivetq = PostgresStorage(setup.cluster.dsn(setup.rivetq_db), max_pool_size=args.concurrency + 2)
    skip = SkipLockedQueue(setup.cluster.dsn(setup.skip_db), args.concurrency)
    await rivetq.open()
    await skip.open()
    try:
        async with _listening(setup.cluster.dsn(setup.skip_db)):
            return {
                "RivetQ": await _throughput_rivetq(rivetq, args.concurrency, args.jobs),
                "SKIP LOCKED": await _throughput_skip_locked(skip, args.concurrency, args.jobs),
            }
    finally:
        await rivetq.close()
        await skip.close()


def _per(value: float, count: int) -> str:
    return f"{value / count:,.2f}"


def _print(rows: list[Row], rates: dict[str, tuple[float, float]], args: argparse.Namespace) -> None:
    print(f"{args.jobs} jobs, {args.concurrency} concurrent callers, {args.nodes} RivetQ node(s)")
    print()
    print(
        "| system | operation | round trips / call | statements / call | commits / call"
        " | WAL bytes / job | buffers / job | DB CPU µs / job | exec µs / job | jobs/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        c = row.cost
        print(
            f"| {row.system} | {row.operation} | {_per(c.round_trips, row.calls)} | {_per(c.statements, row.calls)}"
            f" | {_per(c.commits, row.calls)} | {c.wal_bytes / row.jobs:,.0f} | {c.buffers / row.jobs:,.1f}"
            f" | {c.cpu_ms * 1000 / row.jobs:,.1f}"
            f" | {c.exec_ms * 1000 / row.jobs:,.1f} | {row.jobs / row.seconds:,.0f} |"
        )
    _print_job_totals(rows)
    print()
    print("| system | enqueue jobs/s | lease+ack jobs/s |")
    print("|---|---|---|")
    for system, (enqueue, lease_ack) in rates.items():
        print(f"| {system} | {enqueue:,.0f} | {lease_ack:,.0f} |")


def _print_job_totals(rows: list[Row]) -> None:
    """Enqueue + lease (1 job) + ack, per job, and RivetQ's ratio to SKIP LOCKED."""
    picked = ("enqueue", "lease (1 job)", "ack")
    totals: dict[str, list[float]] = {}
    for row in rows:
        if row.operation in picked:
            c = row.cost
            figures = [c.round_trips, c.statements, c.commits, c.wal_bytes, c.buffers]
            figures += [c.cpu_ms * 1000, c.exec_ms * 1000]
            total = totals.setdefault(row.system, [0.0] * len(figures))
            for i, value in enumerate(figures):
                total[i] += value / row.jobs
    print()
    print(
        "| per job (enqueue + lease + ack) | round trips | statements | commits | WAL bytes | buffers | DB CPU µs"
        " | exec µs |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for system, total in totals.items():
        print(f"| {system} | " + " | ".join(f"{v:,.2f}" for v in total) + " |")
    if len(totals) == 2:
        ours, theirs = totals["RivetQ"], totals["SKIP LOCKED"]
        ratios = (f"{a / b:.2f}x" if b else "-" for a, b in zip(ours, theirs, strict=True))
        print("| RivetQ / SKIP LOCKED | " + " | ".join(ratios) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--nodes", type=int, default=1, help="RivetQ nodes on the database, taking turns")
    args = parser.parse_args()
    setup = _launch()
    try:
        rows = asyncio.run(_costs(setup, args))
        rates = asyncio.run(_throughputs(setup, args))
    finally:
        setup.cluster.destroy()
    _print(rows, rates, args)


if __name__ == "__main__":
    main()
