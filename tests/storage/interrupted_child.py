"""A process that writes to a real data dir with fsync on for a while, for a test that
keeps stopping it with ptrace (as a profiler does), which interrupts its system calls.

Usage: python -m tests.storage.interrupted_child DATA_DIR SECONDS. Prints ``READY`` once
open, then at the end ``DONE <inserts> <failures>``; a failed or stalled insert is
printed as ``FAILED <reason>``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from rivetq.models import NewJob
from rivetq.storage.local import LocalOptions, LocalStorage

WRITERS = 4
STALL_S = 10.0


async def writer(storage: LocalStorage, number: int, until: float, done: list[int]) -> None:
    n = 0
    while time.monotonic() < until:
        now_ms = time.time_ns() // 1_000_000
        job = NewJob(id=f"w{number}-{n}", payload=b"{}", priority=5, eta_ms=now_ms, max_retries=0)
        try:
            await asyncio.wait_for(storage.insert("q", [job], now_ms=now_ms, dedup_window_ms=1000), STALL_S)
        except Exception as error:  # the test reads whatever went wrong
            print(f"FAILED {type(error).__name__}: {error}", flush=True)
            done[1] += 1
            return
        done[0] += 1
        n += 1


async def main(data_dir: Path, seconds: float) -> None:
    storage = LocalStorage(LocalOptions(data_dir=data_dir))
    await storage.open()
    print("READY", flush=True)
    done = [0, 0]
    until = time.monotonic() + seconds
    await asyncio.gather(*(writer(storage, number, until, done) for number in range(WRITERS)))
    await storage.close()
    print(f"DONE {done[0]} {done[1]}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), float(sys.argv[2])))
