"""Simulated power loss, in the SQLite crash-test style: a file layer remembers every
WAL write not yet covered by an fdatasync; at a random moment the "machine dies"
(every later call fails), and each unsynced write is then kept, dropped, torn or
overwritten with garbage. Recovery must keep every acknowledged write and bring back
no acknowledged ack, whatever happened to the unsynced bytes."""

from __future__ import annotations

import asyncio
import errno
import os
import random
from pathlib import Path

import pytest

from rivetq.errors import JobNotFound, StorageUnavailable
from rivetq.storage.local import LocalOptions, LocalStorage
from rivetq.storage.local.fileio import FileIO
from tests.storage.contract_support import QUEUE, T0, insert, lease, new_job

SEGMENT = 2048  # rotations happen often


class LossyIO(FileIO):
    def __init__(self) -> None:
        self.paths: dict[int, Path] = {}
        self.unsynced: dict[Path, list[tuple[int, int]]] = {}
        self.dead = False

    def _check(self) -> None:
        if self.dead:
            raise OSError(errno.EIO, "the machine is off")

    def open_new(self, path: Path) -> int:
        self._check()
        fd = super().open_new(path)
        self.paths[fd] = path
        return fd

    def open_existing(self, path: Path) -> int:
        fd = super().open_existing(path)
        self.paths[fd] = path
        return fd

    def rename(self, source: Path, target: Path) -> None:
        self._check()
        super().rename(source, target)
        for fd, path in self.paths.items():
            if path == source:
                self.paths[fd] = target
        self.unsynced[target] = self.unsynced.pop(source, [])

    def pwrite(self, fd: int, data: bytes, offset: int) -> int:
        self._check()
        written = super().pwrite(fd, data, offset)
        self.unsynced.setdefault(self.paths[fd], []).append((offset, written))
        return written

    def fdatasync(self, fd: int) -> None:
        self._check()
        super().fdatasync(fd)
        self.unsynced.pop(self.paths[fd], None)

    def lose_unsynced(self, rng: random.Random) -> None:
        """What the disk holds after the crash: each unsynced write kept, gone, torn or garbage."""
        for path, writes in self.unsynced.items():
            if not path.exists():
                continue
            with path.open("r+b") as file:
                for offset, length in writes:
                    fate = rng.choice(["keep", "drop", "tear", "garbage"])
                    cut = rng.randrange(length + 1)
                    file.seek(offset + (cut if fate == "tear" else 0))
                    if fate == "drop":
                        file.write(bytes(length))
                    elif fate == "tear":
                        file.write(bytes(length - cut))
                    elif fate == "garbage":
                        file.write(os.urandom(cut))


async def workload(storage: LocalStorage, io: LossyIO, rng: random.Random) -> tuple[set[str], set[str]]:
    """Concurrent inserts and acks until the crash; (acknowledged inserts, acknowledged acks)."""
    inserted: set[str] = set()
    acked: set[str] = set()
    crash_after = rng.randrange(5, 120)
    numbers = iter(range(1, 1 << 30))

    async def worker() -> None:
        try:
            while len(inserted) + len(acked) < crash_after:
                job = new_job(next(numbers))
                await insert(storage, job)
                inserted.add(job.id)
                for leased in await lease(storage, max_jobs=1):
                    if rng.random() < 0.6:
                        await storage.ack(leased.id, leased.lease_id or "", now_ms=T0)
                        acked.add(leased.id)
            io.dead = True
        except StorageUnavailable:
            return

    await asyncio.gather(*(worker() for _ in range(6)))
    return inserted, acked


async def crash(storage: LocalStorage) -> None:
    """Stop without a clean close: no final checkpoint, nothing flushed."""
    checkpointer = storage._checkpointer
    assert checkpointer is not None
    checkpointer.cancel()
    await asyncio.gather(checkpointer, return_exceptions=True)
    await storage._core.wal.close()
    storage._core._release()


@pytest.mark.parametrize("seed", range(30))
async def test_power_loss_keeps_every_acknowledged_write(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    io = LossyIO()
    storage = LocalStorage(LocalOptions(data_dir=tmp_path, segment_size=SEGMENT, checkpoint_bytes=4096, io=io))
    await storage.open()
    inserted, acked = await workload(storage, io, rng)
    await crash(storage)
    io.lose_unsynced(rng)
    reopened = LocalStorage(LocalOptions(data_dir=tmp_path, segment_size=SEGMENT))
    await reopened.open()
    try:
        for job_id in inserted - acked:
            assert (await reopened.get(job_id)).id == job_id
        for job_id in acked:
            with pytest.raises(JobNotFound):
                await reopened.get(job_id)
        page = await reopened.list_jobs(QUEUE, state=None, limit=10_000, cursor=None, now_ms=T0)
        assert not {job.id for job in page.jobs} & acked
        await insert(reopened, new_job(1 << 29))  # and the log takes new writes
    finally:
        await reopened.close()
