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
from rivetq.storage.local.fileio import DataSyncer, FileIO
from tests.storage.contract_support import QUEUE, T0, insert, lease, new_job

SEGMENT = 2048  # rotations happen often


class LossyIO(FileIO):
    """Remembers what a power cut could undo: file writes since the file's last
    fdatasync, renames and unlinks since the directory's last fsync. ``die_at``: the
    machine dies at that file operation (counted from ``arm()``)."""

    def __init__(self, trash: Path) -> None:
        self.paths: dict[int, Path] = {}
        self.unsynced: dict[Path, list[tuple[int, int]]] = {}
        self.dir_ops: list[tuple[Path, Path]] = []  # (from, to); an unlink moves the file to the trash
        self.trash = trash
        self.dead = False
        self.die_at: int | None = None
        self.ops = 0

    def arm(self, die_at: int) -> None:
        self.die_at, self.ops = die_at, 0

    def _check(self) -> None:
        self.ops += 1
        if self.ops == self.die_at:
            self.dead = True
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
        self.dir_ops.append((source, target))

    def unlink(self, path: Path) -> None:
        self._check()
        self.trash.mkdir(exist_ok=True)
        kept = self.trash / f"{len(list(self.trash.iterdir()))}-{path.name}"
        os.rename(path, kept)
        self.dir_ops.append((path, kept))

    def fsync_dir(self, path: Path) -> None:
        self._check()
        super().fsync_dir(path)
        self.dir_ops.clear()

    def allocate(self, fd: int, size: int) -> None:
        self._check()
        super().allocate(fd, size)

    def truncate(self, fd: int, size: int) -> None:
        self._check()
        super().truncate(fd, size)

    def pwrite(self, fd: int, data: bytes, offset: int) -> int:
        self._check()
        written = super().pwrite(fd, data, offset)
        self.unsynced.setdefault(self.paths[fd], []).append((offset, written))
        return written

    def fdatasync(self, fd: int) -> None:
        self._check()
        super().fdatasync(fd)
        self.unsynced.pop(self.paths[fd], None)

    async def sync_data(self, syncer: DataSyncer, fd: int) -> None:
        self._check()
        await super().sync_data(syncer, fd)
        self.unsynced.pop(self.paths[fd], None)

    def lose_unsynced(self, rng: random.Random) -> None:
        """What the disk holds after the crash: each unsynced write kept, gone, torn or
        garbage; each unsynced rename or unlink kept or undone."""
        for path, writes in self.unsynced.items():
            if path.exists():
                _damage(path, writes, rng)
        for source, target in reversed(self.dir_ops):
            if rng.random() < 0.5 and target.exists():
                os.rename(target, source)


def _damage(path: Path, writes: list[tuple[int, int]], rng: random.Random) -> None:
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


async def workload(
    storage: LocalStorage, io: LossyIO, rng: random.Random, crash_after: int
) -> tuple[set[str], set[str], set[str]]:
    """Concurrent inserts and acks until the crash; (acknowledged inserts, jobs an ack
    was tried on, acknowledged acks). A failed ack may still have reached the disk."""
    inserted: set[str] = set()
    acking: set[str] = set()
    acked: set[str] = set()
    numbers = iter(range(1, 1 << 30))

    async def worker() -> None:
        try:
            while len(inserted) + len(acked) < crash_after:
                job = new_job(next(numbers))
                await insert(storage, job)
                inserted.add(job.id)
                for leased in await lease(storage, max_jobs=1):
                    if rng.random() < 0.6:
                        acking.add(leased.id)
                        await storage.ack(leased.id, leased.lease_id or "", now_ms=T0)
                        acked.add(leased.id)
            io.dead = True
        except StorageUnavailable:
            return

    await asyncio.gather(*(worker() for _ in range(6)))
    return inserted, acking, acked


async def crash(storage: LocalStorage) -> None:
    """Stop without a clean close: no final checkpoint, nothing flushed. A checkpoint
    already writing LMDB in its thread is let finish (LMDB commits are atomic; a thread
    still writing after the env is reopened would not be a crash)."""
    checkpointer = storage._checkpointer
    assert checkpointer is not None
    storage._core.stop_checkpoints()
    await checkpointer
    await storage._core.wal.close()
    storage._core._release()


async def crash_and_check(
    data_dir: Path, io: LossyIO, rng: random.Random, crash_after: int, die_at: int | None = None
) -> None:
    storage = LocalStorage(LocalOptions(data_dir=data_dir, segment_size=SEGMENT, checkpoint_bytes=4096, io=io))
    await storage.open()
    if die_at is not None:
        io.arm(die_at)
    inserted, acking, acked = await workload(storage, io, rng, crash_after)
    await crash(storage)
    io.lose_unsynced(rng)
    reopened = LocalStorage(LocalOptions(data_dir=data_dir, segment_size=SEGMENT))
    await reopened.open()
    try:
        for job_id in inserted - acking:
            assert (await reopened.get(job_id)).id == job_id
        for job_id in acked:
            with pytest.raises(JobNotFound):
                await reopened.get(job_id)
        page = await reopened.list_jobs(QUEUE, state=None, limit=10_000, cursor=None, now_ms=T0)
        assert not {job.id for job in page.jobs} & acked
        await insert(reopened, new_job(1 << 29))  # and the log takes new writes
    finally:
        await reopened.close()


@pytest.mark.parametrize("seed", range(30))
async def test_power_loss_keeps_every_acknowledged_write(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    await crash_and_check(tmp_path / "data", LossyIO(tmp_path / "trash"), rng, rng.randrange(5, 120))


async def test_power_loss_at_every_file_operation(tmp_path: Path) -> None:
    """SQLite-style sweep: the machine dies at the 1st, 2nd, ... file operation of a
    workload that rotates segments and checkpoints (deleting segments) all the time."""
    for die_at in range(1, 120):
        io = LossyIO(tmp_path / f"trash-{die_at}")
        await crash_and_check(tmp_path / f"data-{die_at}", io, random.Random(die_at), 1 << 30, die_at)
