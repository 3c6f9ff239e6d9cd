"""Server-level scaling of a real ``rivetqd``: many queues, a deep backlog, restarts,
and the storage backends side by side. Each subcommand starts its own servers on free
loopback ports (gRPC off), drives them over REST with ``rivetq.bench.api.Api`` and stops
them; it prints Markdown table rows.

    .venv/bin/python bench/scaling.py queues                    # 1, 10 and 1,000 queues
    .venv/bin/python bench/scaling.py backlog --jobs 1000000    # RSS, lease+ack, restart with 1M jobs
    .venv/bin/python bench/scaling.py backends                  # memory vs local (fsync on/off)
    .venv/bin/python bench/scaling.py backends --clients 64 --batches 1   # more clients per fsync

Hold the benchmark lock around each run: ``flock /tmp/rivetq-bench.lock .venv/bin/python ...``.
RSS is the server's ``VmRSS`` from /proc, split into anonymous memory (the Python heap)
and file-backed pages (mostly the LMDB memory map, which the kernel may drop).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rivetq import Client
from rivetq.bench.api import Api
from rivetq.bench.recorder import OpStats, percentile
from tests.e2e.server import RunningServer, spawn_server, start_server, wait_ready

WORKERS = 8  # producers, and separately consumers, as in the peer harness
PAYLOAD = {"seq": 0, "pad": "x" * 80}  # ~100 bytes of JSON, like the peer harness's jobs
RESTART_TIMEOUT_S = 600.0
MIB = 1024.0


@dataclass(frozen=True)
class Memory:
    rss_mib: float
    anon_mib: float
    file_mib: float

    def __str__(self) -> str:
        return f"{self.rss_mib:,.0f} MiB ({self.anon_mib:,.0f} anon + {self.file_mib:,.0f} file)"


def memory_of(pid: int) -> Memory:
    """The process's resident memory from /proc/<pid>/status."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            fields[key] = int(value.split()[0]) / MIB
    return Memory(fields["VmRSS"], fields["RssAnon"], fields["RssFile"])


@dataclass(frozen=True)
class Rate:
    """Jobs per second of one phase, the p99 of its calls and how many calls failed."""

    jobs: int
    jobs_per_s: float
    p99_ms: float
    max_ms: float
    failed: int

    def __str__(self) -> str:
        failures = f", {self.failed} failed" if self.failed else ""
        return f"{self.jobs_per_s:,.0f} (p99 {self.p99_ms:.1f}, max {self.max_ms:.0f} ms{failures})"


def _rate(jobs: int, elapsed: float, *calls: OpStats) -> Rate:
    p99 = max(percentile(sorted(call.latencies), 0.99) for call in calls)
    longest = max(max(call.latencies, default=0.0) for call in calls)
    return Rate(jobs, jobs / elapsed, p99 * 1000, longest * 1000, sum(call.failed for call in calls))


async def _timed(workers: Sequence[Awaitable[int]]) -> tuple[int, float]:
    """(jobs done by all ``workers`` together, seconds until the last one returned)."""
    started = time.perf_counter()
    counts = await asyncio.gather(*workers)
    return sum(counts), time.perf_counter() - started


async def enqueue_for(api: Api, queues: Sequence[str], seconds: float, batch: int, workers: int = WORKERS) -> Rate:
    """``workers`` closed-loop producers for ``seconds``, taking the queues in turn."""
    stats, turn, body = OpStats(), itertools.count(), [PAYLOAD] * batch
    deadline = time.perf_counter() + seconds

    async def producer() -> int:
        done = 0
        while time.perf_counter() < deadline:
            done += await api.enqueue(queues[next(turn) % len(queues)], body, 5, stats)
        return done

    return _rate(*await _timed([producer() for _ in range(workers)]), stats)


async def _lease_ack(api: Api, queue: str, batch: int, lease: OpStats, ack: OpStats) -> int:
    jobs = await api.lease(queue, max_jobs=batch, visibility_ms=60_000, wait_ms=0, stats=lease)
    return await api.ack(jobs, ack) if jobs else 0


async def drain(api: Api, queues: Sequence[str], batch: int, workers: int = WORKERS) -> Rate:
    """``workers`` consumers lease and ack until every queue is empty (nothing enqueues
    meanwhile); jobs/s up to the last ack. The consumers share one rotation over the
    queues that still have jobs, so none is left alone with a long tail of queues."""
    lease, ack = OpStats(), OpStats()
    pending, turn = list(queues), itertools.count()

    async def consumer() -> int:
        done = 0
        while pending:
            queue = pending[next(turn) % len(pending)]
            acked = await _lease_ack(api, queue, batch, lease, ack)
            if not acked and queue in pending:
                pending.remove(queue)
            done += acked
        return done

    return _rate(*await _timed([consumer() for _ in range(workers)]), lease, ack)


async def lease_ack_for(api: Api, queue: str, seconds: float, batch: int) -> Rate:
    """``WORKERS`` consumers lease and ack from one (deep) queue for ``seconds``."""
    lease, ack = OpStats(), OpStats()
    deadline = time.perf_counter() + seconds

    async def consumer() -> int:
        done = 0
        while time.perf_counter() < deadline:
            done += await _lease_ack(api, queue, batch, lease, ack)
        return done

    return _rate(*await _timed([consumer() for _ in range(WORKERS)]), lease, ack)


async def fill(api: Api, queue: str, total: int, batch: int = 1000, producers: int = 4) -> Rate:
    """Enqueue ``total`` jobs with ``enqueue_batch`` calls of ``batch`` jobs."""
    stats, calls, body = OpStats(), iter(range(total // batch)), [PAYLOAD] * batch

    async def producer() -> int:
        done = 0
        for _ in calls:
            done += await api.enqueue(queue, body, 5, stats)
        return done

    return _rate(*await _timed([producer() for _ in range(producers)]), stats)


def ready_count(server: RunningServer, queue: str) -> int:
    with Client(server.url) as client:
        return client.stats(queue).ready


def drive(server: RunningServer, work: Callable[[Api], Awaitable[Any]]) -> Any:
    """Run ``work`` against ``server`` with a fresh keep-alive session."""

    async def go() -> Any:
        async with Api(server.url, connections=64) as api:
            return await work(api)

    return uvloop.run(go())


def server_args(backend: str, fsync: bool = True) -> list[str]:
    return ["--storage-backend", backend, "--log-level", "warning", *([] if fsync else ["--no-fsync"])]


@contextmanager
def running(root: Path, name: str, args: Sequence[str]) -> Iterator[RunningServer]:
    server = start_server(root / name, *args, grpc=False)
    try:
        yield server
    finally:
        server.kill()


def restart(server: RunningServer, how: signal.Signals, args: Sequence[str]) -> tuple[RunningServer, float, float]:
    """Stop ``server`` with ``how``, start a new one on its data dir; (new server,
    seconds to exit, seconds from spawn to /readyz 200)."""
    started = time.perf_counter()
    server.process.send_signal(how)
    server.process.wait(RESTART_TIMEOUT_S)
    stopped_s = time.perf_counter() - started
    directory = server.log_path.parent
    started = time.perf_counter()
    process, log_path, url, _ = spawn_server(directory, *args, data_dir=server.data_dir, grpc=False)
    wait_ready(process, url, log_path, timeout=RESTART_TIMEOUT_S)
    ready_s = time.perf_counter() - started
    return RunningServer(process, url, None, server.data_dir, log_path), stopped_s, ready_s


def run_queues(root: Path, seconds: float) -> None:
    print("| queues | enqueue jobs/s | lease+ack jobs/s | RSS idle | RSS with backlog | RSS after drain |")
    print("|---:|---|---|---|---|---|", flush=True)
    for count in (1, 10, 1000):
        queues = [f"q{n:04d}" for n in range(count)]
        with running(root, f"queues-{count}", server_args("local")) as server:
            idle = memory_of(server.pid)
            enqueued = drive(server, partial(enqueue_for, queues=queues, seconds=seconds, batch=1))
            backlog = memory_of(server.pid)
            drained = drive(server, partial(drain, queues=queues, batch=1))
            print(f"| {count:,} | {enqueued} | {drained} | {idle} | {backlog} | {memory_of(server.pid)} |", flush=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_backends(root: Path, seconds: float, clients: int, batches: Sequence[int]) -> None:
    """Each backend with ``clients`` producers, then as many consumers; the server's CPU
    per job beside each rate shows what the storage adds to a request."""
    print(f"{clients} producers, then {clients} consumers")
    print("| backend | batch | enqueue jobs/s | server CPU µs/job | lease+ack jobs/s | server CPU µs/job |")
    print("|---|---:|---|---:|---|---:|", flush=True)
    variants = [("memory", "memory", True), ("local, fsync on", "local", True), ("local, fsync off", "local", False)]
    for label, backend, fsync in variants:
        for batch in batches:
            name = f"{backend}-{fsync}-{batch}"
            with running(root, name, server_args(backend, fsync)) as server:
                before = cpu_seconds(server.pid)
                enqueued = drive(
                    server, partial(enqueue_for, queues=["bench"], seconds=seconds, batch=batch, workers=clients)
                )
                middle = cpu_seconds(server.pid)
                drained = drive(server, partial(drain, queues=["bench"], batch=batch, workers=clients))
                after = cpu_seconds(server.pid)
            print(
                f"| {label} | {batch} | {enqueued} | {(middle - before) / enqueued.jobs * 1e6:.0f} "
                f"| {drained} | {(after - middle) / drained.jobs * 1e6:.0f} |",
                flush=True,
            )


def run_backlog(root: Path, jobs: int, seconds: float) -> None:
    args = server_args("local")
    started = time.perf_counter()
    server = start_server(root / "backlog", *args, grpc=False)
    try:
        print(f"empty data dir: start to /readyz 200 {time.perf_counter() - started:.2f} s", flush=True)
        print(f"idle: {memory_of(server.pid)}", flush=True)
        filled = drive(server, partial(fill, queue="deep", total=jobs))
        print(f"fill {jobs:,} jobs (enqueue_batch of 1,000, 4 producers): {filled} jobs/s", flush=True)
        print(f"with {ready_count(server, 'deep'):,} ready: {memory_of(server.pid)}", flush=True)
        for how in (signal.SIGKILL, signal.SIGTERM):  # SIGKILL first: the fill's WAL tail is replayed
            queued = ready_count(server, "deep")
            server, stopped_s, ready_s = restart(server, how, args)
            after = ready_count(server, "deep")
            print(
                f"{how.name} with {queued:,} queued: exit {stopped_s:.2f} s, start to /readyz 200 {ready_s:.2f} s, "
                f"{after:,} queued after; {memory_of(server.pid)}",
                flush=True,
            )
        for batch in (1, 100):
            rate = drive(server, partial(lease_ack_for, queue="deep", seconds=seconds, batch=batch))
            print(f"lease+ack against the backlog, {batch} per call: {rate} jobs/s", flush=True)
        print(f"after ({ready_count(server, 'deep'):,} ready): {memory_of(server.pid)}", flush=True)
    finally:
        server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["queues", "backlog", "backends"])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each timed phase")
    parser.add_argument("--jobs", type=int, default=1_000_000, help="backlog size (backlog)")
    parser.add_argument("--clients", type=int, default=WORKERS, help="producers, then consumers (backends)")
    parser.add_argument("--batches", default="1,100", help="jobs per call, comma-separated (backends)")
    options = parser.parse_args()
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), flush=True)
    with tempfile.TemporaryDirectory(prefix="rivetq-scaling-") as directory:
        root = Path(directory)
        if options.what == "queues":
            run_queues(root, options.seconds)
        elif options.what == "backends":
            batches = [int(batch) for batch in options.batches.split(",")]
            run_backends(root, options.seconds, options.clients, batches)
        else:
            run_backlog(root, options.jobs, options.seconds)


if __name__ == "__main__":
    main()
