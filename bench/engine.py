"""Benchmark of the embedded engine (rivetq.storage.local), no server involved.

    .venv/bin/python bench/engine.py                       # everything (a few minutes)
    .venv/bin/python bench/engine.py --quick               # smaller runs, for a smoke test

Prints committed records/s for 1, 8 and 64 concurrent writers with fsync on and off,
fsyncs/s and records per fsync (group commit), recovery time after SIGKILL with 100k
and 1M queued jobs, and the Python heap bytes per queued job (tracemalloc).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from rivetq.models import NewJob
from rivetq.storage.local import LocalOptions, LocalStorage

PAYLOAD = b'{"task": "send_email", "to": "user@example.com", "template": "welcome", "attempt": 1}'
T0 = 1_700_000_000_000


def job(n: int, prefix: str) -> NewJob:
    return NewJob(id=f"{prefix}-{n:09d}", payload=PAYLOAD, priority=n % 10, eta_ms=T0, max_retries=3)


async def throughput(data_dir: Path, writers: int, fsync: bool, seconds: float) -> tuple[float, float]:
    """(committed records/s, fsyncs/s) of single-job inserts from ``writers`` tasks."""
    syncs: list[float] = []
    storage = LocalStorage(LocalOptions(data_dir=data_dir, fsync=fsync, on_fsync=syncs.append))
    await storage.open()
    done = 0
    deadline = time.perf_counter() + seconds

    async def writer(number: int) -> None:
        nonlocal done
        n = 0
        while time.perf_counter() < deadline:
            await storage.insert("bench", [job(n, f"w{number}")], now_ms=T0, dedup_window_ms=0)
            n += 1
            done += 1

    began = time.perf_counter()
    syncs.clear()
    await asyncio.gather(*(writer(i) for i in range(writers)))
    elapsed = time.perf_counter() - began
    fsyncs = len(syncs)
    await storage.close()
    return done / elapsed, fsyncs / elapsed


async def fill(data_dir: Path, count: int) -> None:
    """Insert ``count`` jobs in batches of 1000, then die by SIGKILL (no clean close)."""
    storage = LocalStorage(LocalOptions(data_dir=data_dir))
    await storage.open()
    for start in range(0, count, 1000):
        batch = [job(n, "j") for n in range(start, min(start + 1000, count))]
        await storage.insert("bench", batch, now_ms=T0, dedup_window_ms=0)
    os.kill(os.getpid(), signal.SIGKILL)


async def open_timed(data_dir: Path) -> tuple[float, int]:
    """(seconds to open: lock, LMDB, WAL replay, index rebuild; queued jobs)."""
    began = time.perf_counter()
    storage = LocalStorage(LocalOptions(data_dir=data_dir))
    await storage.open()
    elapsed = time.perf_counter() - began
    stats = await storage.stats("bench", now_ms=T0)
    await storage.close()
    return elapsed, 0 if stats is None else stats.ready


async def heap_per_job(data_dir: Path, jobs: int) -> float:
    """Python heap held after opening a checkpointed data dir, per queued job."""
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    storage = LocalStorage(LocalOptions(data_dir=data_dir))
    await storage.open()
    heap = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    await storage.close()
    return heap / max(jobs, 1)


def recovery_round(root: Path, count: int) -> None:
    data_dir = root / f"recover-{count}"
    began = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--fill", str(data_dir), str(count)], check=False)
    filled = time.perf_counter() - began
    wal_mb = sum(p.stat().st_size for p in (data_dir / "wal").iterdir()) / 1e6
    seconds, jobs = asyncio.run(open_timed(data_dir))
    print(f"recovery after SIGKILL, {jobs:,} queued jobs ({wal_mb:.0f} MB of WAL segments): {seconds:.2f} s")
    print(f"  (filled in {filled:.1f} s: {count / filled:,.0f} jobs/s in batches of 1000)")
    seconds, jobs = asyncio.run(open_timed(data_dir))
    print(f"open after a clean close (all in LMDB), {jobs:,} jobs: {seconds:.2f} s")
    print(f"  Python heap per queued job: {asyncio.run(heap_per_job(data_dir, jobs)):.0f} bytes")
    shutil.rmtree(data_dir)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--fill", nargs=2, metavar=("DIR", "COUNT"))
    args = parser.parse_args()
    if args.fill:
        asyncio.run(fill(Path(args.fill[0]), int(args.fill[1])))
        return
    seconds = 1.0 if args.quick else 3.0
    sizes = [10_000, 100_000] if args.quick else [100_000, 1_000_000]
    root = Path(tempfile.mkdtemp(prefix="rivetq-bench-", dir=os.environ.get("BENCH_DIR")))
    try:
        print(f"{'writers':>7} {'fsync':>5} {'records/s':>10} {'fsyncs/s':>9} {'records/fsync':>13}")
        for fsync in (True, False):
            for writers in (1, 8, 64):
                data_dir = root / f"t-{writers}-{fsync}"
                rate, sync_rate = asyncio.run(throughput(data_dir, writers, fsync, seconds))
                ratio = f"{rate / sync_rate:.1f}" if sync_rate else "-"
                print(f"{writers:>7} {'on' if fsync else 'off':>5} {rate:>10,.0f} {sync_rate:>9,.0f} {ratio:>13}")
                shutil.rmtree(data_dir)
        for count in sizes:
            recovery_round(root, count)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
