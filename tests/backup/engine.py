"""An embedded engine for the in-process backup tests: a fresh ``LocalStorage`` on a data
directory with small segments (fsync off), and jobs inserted one per transaction so that
each is its own WAL record."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from rivetq.models import NewJob
from rivetq.storage.local import LocalOptions, LocalStorage

__all__ = ["insert_jobs", "opened_storage"]


@contextlib.asynccontextmanager
async def opened_storage(data_dir: Path, *, segment_size: int) -> AsyncIterator[LocalStorage]:
    storage = LocalStorage(LocalOptions(data_dir, segment_size=segment_size, fsync=False, space_reserve=1 << 20))
    await storage.open()
    try:
        yield storage
    finally:
        await storage.close()


async def insert_jobs(storage: LocalStorage, first: int, count: int, *, payload: bytes) -> None:
    """Jobs ``job-{first:05d}`` onwards into queue ``q``, one transaction each."""
    for n in range(first, first + count):
        job = NewJob(id=f"job-{n:05d}", payload=payload, priority=5, eta_ms=0, max_retries=3)
        await storage.insert("q", [job], now_ms=1, dedup_window_ms=0)
