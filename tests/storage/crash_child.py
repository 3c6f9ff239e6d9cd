"""The process the crash tests SIGKILL: concurrent writers on a real data dir with
fsync on, printing each acknowledged write (one flushed line each):

    I <job id>   the insert returned (durable)
    T <job id>   an ack is about to be tried (the job may be gone or not)
    A <job id>   the ack returned (the job must never come back)

Usage: python -m tests.storage.crash_child DATA_DIR MODE ROUND, MODE one of
``mixed``, ``checkpoint`` (checkpoints back to back) or ``rotation`` (4 KiB segments).
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from pathlib import Path

from rivetq.models import NewJob
from rivetq.storage.local import LocalOptions, LocalStorage

WRITERS = 8
SETTINGS: dict[str, dict[str, int]] = {
    "mixed": {"segment_size": 1 << 20},
    "checkpoint": {"segment_size": 1 << 16, "checkpoint_bytes": 8192},
    "rotation": {"segment_size": 4096},
}


def report(kind: str, job_id: str) -> None:
    sys.stdout.write(f"{kind} {job_id}\n")
    sys.stdout.flush()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def writer(storage: LocalStorage, round_no: int, number: int, rng: random.Random) -> None:
    lease_numbers = iter(range(1 << 62))
    for n in range(1 << 62):
        job_id = f"r{round_no:03d}-w{number}-{n:06d}"
        new = NewJob(id=job_id, payload=b'{"n": %d}' % n, priority=rng.randint(0, 9), eta_ms=now_ms(), max_retries=3)
        await storage.insert("crash", [new], now_ms=now_ms(), dedup_window_ms=86_400_000)
        report("I", job_id)
        if n % 2:
            continue
        leased = await storage.lease(
            "crash",
            max_jobs=2,
            visibility_ms=600_000,
            now_ms=now_ms(),
            new_lease_id=lambda: f"{number}-{next(lease_numbers)}",
        )
        for job in leased.jobs:
            if rng.random() < 0.7:
                report("T", job.id)
                await storage.ack(job.id, job.lease_id or "", now_ms=now_ms())
                report("A", job.id)
            else:
                await storage.retry(job.id, job.lease_id or "", eta_ms=now_ms(), error="crash test", now_ms=now_ms())


async def checkpoints(storage: LocalStorage) -> None:
    while True:
        await storage.checkpoint()
        await asyncio.sleep(0)


async def main(data_dir: Path, mode: str, round_no: int) -> None:
    storage = LocalStorage(LocalOptions(data_dir=data_dir, **SETTINGS[mode]))  # type: ignore[arg-type]
    await storage.open()
    report("READY", "-")
    rng = random.Random(round_no)
    tasks = [writer(storage, round_no, number, random.Random(rng.random())) for number in range(WRITERS)]
    if mode == "checkpoint":
        tasks.append(checkpoints(storage))
    await asyncio.gather(*tasks)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
