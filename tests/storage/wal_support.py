"""Helpers for the WAL and engine tests: a WAL opened on a directory, a file layer
that fails on demand, byte surgery on segments."""

from __future__ import annotations

import errno
from pathlib import Path

from rivetq.storage.local.fileio import DataSyncer, FileIO
from rivetq.storage.local.record import Frame
from rivetq.storage.local.recovery import recover_log
from rivetq.storage.local.segment import list_segments
from rivetq.storage.local.wal import WalWriter

__all__ = ["FaultyIO", "flip_byte", "open_wal", "segments", "write_records"]


def open_wal(
    wal_dir: Path,
    *,
    segment_size: int = 1 << 16,
    after_lsn: int = 0,
    replayed: list[tuple[int, bytes]] | None = None,
    io: FileIO | None = None,
    on_fsync: list[float] | None = None,
) -> WalWriter:
    """Recover ``wal_dir`` (recording replayed records) and open a writer on it.
    Must be called with a running event loop."""
    layer = io or FileIO()
    seen = replayed if replayed is not None else []

    def replay(lsn: int, frame: Frame) -> None:
        seen.append((lsn, frame.body))

    tail = recover_log(layer, wal_dir, after_lsn=after_lsn, segment_size=segment_size, replay=replay)
    return WalWriter(
        layer,
        wal_dir,
        tail,
        segment_size=segment_size,
        fsync=True,
        on_fsync=None if on_fsync is None else on_fsync.append,
        on_failure=lambda: None,
    )


async def write_records(wal: WalWriter, bodies: list[bytes], *, one_group_each: bool = True) -> list[int]:
    """Write ``bodies`` (each in its own write group, or all in one); their LSNs."""
    lsns = []
    for body in bodies:
        lsns.append(wal.submit(1, body))
        if one_group_each:
            await wal.wait_durable(lsns[-1])
    await wal.wait_durable(lsns[-1])
    return lsns


def segments(wal_dir: Path) -> list[Path]:
    return [path for _, path in list_segments(wal_dir)]


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


class FaultyIO(FileIO):
    """Fails chosen calls with an OSError until ``heal()``: ``fail_write`` (after
    writing ``partial`` bytes of the call), ``fail_sync``, ``fail_allocate``,
    ``fail_dir_sync``; ``free``, when set, is the free space the file system reports."""

    def __init__(self) -> None:
        self.free: int | None = None
        self.fail_write: int | None = None
        self.fail_sync: int | None = None
        self.fail_allocate: int | None = None
        self.fail_dir_sync: int | None = None
        self.partial = 0
        self.writes = 0
        self.syncs = 0

    def heal(self) -> None:
        self.fail_write = self.fail_sync = self.fail_allocate = self.fail_dir_sync = None
        self.free = None

    def pwrite(self, fd: int, data: bytes, offset: int) -> int:
        self.writes += 1
        if self.fail_write is not None:
            if self.partial and len(data) > self.partial:
                written = super().pwrite(fd, data[: self.partial], offset)
                self.partial = 0
                return written
            raise OSError(self.fail_write, errno.errorcode[self.fail_write])
        return super().pwrite(fd, data, offset)

    def fdatasync(self, fd: int) -> None:
        self._count_sync()
        super().fdatasync(fd)

    async def sync_data(self, syncer: DataSyncer, fd: int) -> None:
        self._count_sync()
        await super().sync_data(syncer, fd)

    def _count_sync(self) -> None:
        self.syncs += 1
        if self.fail_sync is not None:
            raise OSError(self.fail_sync, errno.errorcode[self.fail_sync])

    def free_bytes(self, path: Path) -> int:
        return super().free_bytes(path) if self.free is None else self.free

    def fsync_dir(self, path: Path) -> None:
        if self.fail_dir_sync is not None:
            raise OSError(self.fail_dir_sync, errno.errorcode[self.fail_dir_sync])
        super().fsync_dir(path)

    def allocate(self, fd: int, size: int) -> None:
        if self.fail_allocate is not None:
            raise OSError(self.fail_allocate, errno.errorcode[self.fail_allocate])
        super().allocate(fd, size)
