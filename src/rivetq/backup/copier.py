"""Copying a live engine to a backup target: a snapshot of the LMDB store, and the
durable WAL after it in pieces (shared by the shipper and the online backup)."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from rivetq.backup.layout import Snapshot, piece_key, snapshot_key
from rivetq.backup.target import BackupTarget

if TYPE_CHECKING:  # the engine imports this package: no import cycle at run time
    from rivetq.storage.local.wal import Shippable, WalWriter

__all__ = ["CopyStore", "LogCopier", "LogGap", "Position", "now_ms", "remove_scratch"]

log = logging.getLogger("rivetq.backup")

CopyStore = Callable[[Path], int]  # copies the store into a directory, returns the copy's applied LSN


class LogGap(Exception):
    """The segment to copy next is gone (deleted past ``backup.max_unshipped``)."""


class Position(NamedTuple):
    """Where the next piece starts: a segment's first LSN and a byte offset in it."""

    segment: int
    offset: int


def now_ms() -> int:
    return int(time.time() * 1000)


class LogCopier:
    def __init__(self, wal: WalWriter, copy_store: CopyStore, scratch_dir: Path, holder: str) -> None:
        self._wal, self._copy_store, self._scratch_dir, self._holder = wal, copy_store, scratch_dir, holder

    def snapshot(self, target: BackupTarget, *, still_needed: int | None = None) -> tuple[Snapshot, Position]:
        """Copy the store to ``target`` and hold the log after it (and from segment
        ``still_needed`` on, where a copy behind the snapshot stands); returns the snapshot
        and where the log that continues it starts."""
        self._wal.hold(self._holder, self._wal.shippable().segments[0][0])  # nothing it may need goes meanwhile
        with tempfile.TemporaryDirectory(dir=self._scratch_dir, prefix="backup-") as scratch:
            lsn = self._copy_store(Path(scratch))
            taken_ms = now_ms()
            taken = Snapshot(snapshot_key(lsn, taken_ms), lsn, taken_ms)
            target.put_file(taken.key, Path(scratch) / "data.mdb")
        start = self._segment_of(lsn + 1)
        self._wal.hold(self._holder, start if still_needed is None else min(start, still_needed))
        return taken, Position(start, 0)

    def _segment_of(self, lsn: int) -> int:
        segments = self._wal.shippable().segments
        return max((first for first, _, _ in segments if first <= lsn), default=segments[0][0])

    def ship(self, target: BackupTarget, position: Position) -> tuple[Position, int]:
        """Copy the durable log from ``position`` on; returns the new position and the
        last LSN copied (pieces end where a durable write group or a segment ends)."""
        shippable = self._wal.shippable()
        segments = shippable.segments
        if not any(first == position.segment for first, _, _ in segments):
            raise LogGap(f"WAL segment {position.segment} was deleted before it was copied")
        last_lsn = position.segment - 1
        for index, first, path, start, end in _from(shippable, position):
            last_lsn = _last_lsn(shippable, index)
            if end > start:
                target.put_bytes(piece_key(first, start, end, last_lsn, now_ms()), _read(path, start, end))
            position = Position(first, end)
        self._wal.hold(self._holder, position.segment)  # not before: a failed upload retries from the old position
        return position, last_lsn

    def pending_bytes(self, position: Position) -> int:
        """Bytes of durable log from ``position`` on (what ``ship`` would copy now)."""
        return sum(end - start for _, _, _, start, end in _from(self._wal.shippable(), position))

    def release(self) -> None:
        self._wal.hold(self._holder, None)


def _from(shippable: Shippable, position: Position) -> Iterator[tuple[int, int, Path, int, int]]:
    """Each durable segment from ``position`` on: its index, first LSN, path, and the byte
    range ``[start, end)`` not copied yet."""
    for index, (first, path, end) in enumerate(shippable.segments):
        if first >= position.segment:
            yield index, first, path, position.offset if first == position.segment else 0, end


def _last_lsn(shippable: Shippable, index: int) -> int:
    segments = shippable.segments
    return segments[index + 1][0] - 1 if index + 1 < len(segments) else shippable.durable_lsn


def _read(path: Path, start: int, end: int) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.pread(fd, end - start, start)
    finally:
        os.close(fd)
    if len(data) != end - start:
        raise OSError(f"{path}: read {len(data)} of {end - start} bytes at offset {start}")
    return data


def remove_scratch(scratch_dir: Path) -> None:
    """Leftovers of a copy a crash interrupted."""
    for leftover in scratch_dir.glob("backup-*"):
        shutil.rmtree(leftover, ignore_errors=True)
