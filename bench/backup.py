"""Benchmark of WAL shipping and restore (docs/backup.md), in process, against a real
S3 endpoint (moto_server on this machine, as in the tests):

    PYTHONPATH=. flock /tmp/rivetq-bench.lock .venv/bin/python bench/backup.py    # 1M jobs
    PYTHONPATH=. .venv/bin/python bench/backup.py --jobs 100000                   # smaller

1. Loss window: single-job enqueues from 8 concurrent writers (fsync on) for ``--seconds``
   while the log ships every second; ``rivetq_backup_lag_seconds`` sampled every 100 ms;
   the same writers without shipping first, for what shipping costs them.
2. Restore time: ``--jobs`` jobs enqueued in batches of 1,000 after the first snapshot
   (so all of them come back through the WAL: the worst case), then ``rivetqd restore``'s
   function timed: download, rewrite the log, the engine's recovery and a checkpoint, verify.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rivetq.backup.options import BackupOptions
from rivetq.backup.restore import restore
from rivetq.models import NewJob
from rivetq.storage.local import LocalOptions, LocalStorage
from tests.backup.s3 import CREDENTIALS, moto_bucket

PAYLOAD = b'{"task": "send_email", "to": "user@example.com", "template": "welcome", "attempt": 1}'


def job(n: int, prefix: str) -> NewJob:
    return NewJob(id=f"{prefix}-{n:09d}", payload=PAYLOAD, priority=5, eta_ms=0, max_retries=3)


async def loss_window(storage: LocalStorage, seconds: float) -> tuple[list[float], int]:
    """Lag samples, and how many jobs the writers enqueued."""
    lags: list[float] = []
    stop = time.monotonic() + seconds
    written = [0] * 8

    async def writer(number: int) -> None:
        while time.monotonic() < stop:
            written[number] += 1
            await storage.insert("bench", [job(written[number], f"w{number}")], now_ms=1, dedup_window_ms=0)

    async def sample() -> None:
        while time.monotonic() < stop:
            lags.append(storage.gauges()["backup_lag_seconds"])
            await asyncio.sleep(0.1)

    await asyncio.gather(sample(), *(writer(number) for number in range(8)))
    return lags, sum(written)


async def fill(storage: LocalStorage, jobs: int) -> float:
    began = time.monotonic()
    for start in range(0, jobs, 1_000):
        batch = [job(n, "fill") for n in range(start, min(start + 1_000, jobs))]
        await storage.insert("fill", batch, now_ms=1, dedup_window_ms=0)
    return time.monotonic() - began


async def seconds_until(condition: Callable[[], bool]) -> float:
    began = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - began
        await asyncio.sleep(0.05)


async def baseline(root: Path, seconds: float) -> None:
    """The same writers without shipping: what shipping costs them."""
    storage = LocalStorage(LocalOptions(root / "baseline"))
    await storage.open()
    try:
        written = 0
        stop = time.monotonic() + seconds

        async def writer(number: int) -> None:
            nonlocal written
            while time.monotonic() < stop:
                written += 1
                await storage.insert("bench", [job(written, f"w{number}")], now_ms=1, dedup_window_ms=0)

        await asyncio.gather(*(writer(number) for number in range(8)))
    finally:
        await storage.close()
    print(f"without shipping, 8 writers for {seconds:.0f} s: {written / seconds:,.0f} enqueues/s")


async def run(root: Path, url: str, endpoint: str, jobs: int, seconds: float) -> None:
    await baseline(root, seconds)
    backup = BackupOptions(url=url, endpoint=endpoint, snapshot_interval_ms=86_400_000)
    storage = LocalStorage(LocalOptions(root / "data", backup=backup))
    await storage.open()
    try:
        await seconds_until(lambda: storage.gauges()["backup_shipped_lsn"] >= 0)
        lags, written = await loss_window(storage, seconds)
        print(f"loss window over {seconds:.0f} s of 8 writers ({written / seconds:,.0f} enqueues/s): lag p50 "
              f"{statistics.median(lags):.2f} s, p99 {statistics.quantiles(lags, n=100)[98]:.2f} s, "
              f"max {max(lags):.2f} s")  # fmt: skip
        filled = await fill(storage, jobs)
        caught_up = await seconds_until(lambda: storage.gauges()["backup_lag_seconds"] == 0)
        print(f"{jobs:,} jobs enqueued in {filled:.1f} s; shipping caught up {caught_up:.1f} s after the last")
        began = time.monotonic()
        await storage.backup(f"{url}-online")
        print(f"online backup of {jobs + written:,} jobs: {time.monotonic() - began:.1f} s")
    finally:
        await storage.close()
    sources = ((url, "all of them in the WAL after the snapshot"), (f"{url}-online", "a snapshot of all"))
    for number, (source, what) in enumerate(sources):
        began = time.monotonic()
        report = await asyncio.to_thread(restore, source, root / f"restored-{number}", endpoint=endpoint)
        print(f"restore of {jobs + written:,} jobs from {what} ({report.last_lsn - report.snapshot_lsn:,} "
              f"WAL records replayed): {time.monotonic() - began:.1f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rivetq-bench-backup-") as scratch:
        root = Path(scratch)
        with moto_bucket(root / "moto") as bucket:
            os.environ.update(CREDENTIALS)
            asyncio.run(run(root, bucket.url("bench"), bucket.endpoint, args.jobs, args.seconds))


if __name__ == "__main__":
    main()
