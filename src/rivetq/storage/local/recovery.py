"""Reading the WAL back at startup: check every segment, hand the records after the
checkpoint's LSN to the caller, and cut a torn tail off the last segment."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from rivetq.storage.local.fileio import FileIO
from rivetq.storage.local.record import FRAME_HEADER, CorruptWAL, Frame
from rivetq.storage.local.segment import HEADER_SIZE, create_segment, list_segments, scan_segment, segment_path

__all__ = ["LogTail", "ReplayFn", "recover_log", "scan_log"]

log = logging.getLogger("rivetq.storage.wal")

ReplayFn = Callable[[int, Frame], None]


class LogTail(NamedTuple):
    """Where the log ends: its segments (first LSN, path, bytes used), the next LSN."""

    segments: list[tuple[int, Path, int]]
    next_lsn: int


class _Found(NamedTuple):
    tail: LogTail
    torn: list[tuple[Path, int, int, str]]  # path, cut at, damage offset, reason
    strays: list[Path]  # empty segments left by a rotation that failed halfway
    obsolete: list[Path]  # wholly below the checkpoint (their deletion was lost in a crash)


def _is_empty(path: Path) -> bool:
    with path.open("rb") as file:
        file.seek(HEADER_SIZE)
        return not any(file.read(FRAME_HEADER))


def _first_lsn(wal_dir: Path, segments: list[tuple[int, Path]], after_lsn: int) -> int:
    """The LSN the log starts at, checked against the checkpoint."""
    if not segments:
        if after_lsn > 0:
            raise CorruptWAL(str(wal_dir), 0, f"no WAL segments, but the checkpoint is at LSN {after_lsn}")
        return after_lsn + 1
    first, path = segments[0]
    if first > after_lsn + 1:
        raise CorruptWAL(str(path), 0, f"records {after_lsn + 1}..{first - 1} are missing")
    return first


def scan_log(wal_dir: Path, *, after_lsn: int, replay: ReplayFn | None) -> _Found:
    """Check the whole log (raising ``CorruptWAL``) and replay records after ``after_lsn``."""
    found = list_segments(wal_dir)
    needed = max((i for i, (first, _) in enumerate(found) if first <= after_lsn + 1), default=0)
    obsolete, segments = [path for _, path in found[:needed]], found[needed:]
    lsn = _first_lsn(wal_dir, segments, after_lsn)
    empty = [_is_empty(path) for _, path in segments]
    kept: list[tuple[int, Path, int]] = []
    torn: list[tuple[Path, int, int, str]] = []
    strays: list[Path] = []
    for index, (first, path) in enumerate(segments):
        if first < lsn and empty[index]:
            strays.append(path)
            continue
        if first != lsn:
            raise CorruptWAL(str(path), 0, f"segment starts at LSN {first}, the previous one ends at {lsn - 1}")
        scan = scan_segment(path, path.read_bytes(), first, last=all(empty[index + 1 :]))
        for frame in scan.records:
            if replay is not None and lsn > after_lsn:
                replay(lsn, frame)
            lsn += 1
        if scan.damage_at is not None:
            torn.append((path, scan.end, scan.damage_at, scan.reason))
        kept.append((first, path, scan.end))
    if kept and lsn - 1 < after_lsn:
        raise CorruptWAL(str(kept[-1][1]), kept[-1][2], f"log ends at LSN {lsn - 1}, before checkpoint {after_lsn}")
    return _Found(LogTail(kept, lsn), torn, strays, obsolete)


def recover_log(io: FileIO, wal_dir: Path, *, after_lsn: int, segment_size: int, replay: ReplayFn) -> LogTail:
    """Replay, cut any torn tail (with a warning), and make sure a segment is open for
    appends. Leftover temp files of an interrupted rotation are removed first."""
    wal_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for temp in wal_dir.glob("*.wal.tmp"):
        temp.unlink()
    found = scan_log(wal_dir, after_lsn=after_lsn, replay=replay)
    for stray in found.strays:
        log.warning("WAL: removing %s, an empty segment left by an interrupted rotation", stray)
        io.unlink(stray)
    for path in found.obsolete:
        io.unlink(path)
    if found.strays or found.obsolete:
        io.fsync_dir(wal_dir)
    for path, cut_at, damage_at, reason in found.torn:
        log.warning("WAL torn tail in %s at offset %d (%s): cut back to offset %d", path, damage_at, reason, cut_at)
        _cut(io, path, cut_at, segment_size)
    if found.tail.segments:
        return found.tail
    fd = create_segment(io, wal_dir, found.tail.next_lsn, segment_size)
    io.close(fd)
    first = found.tail.next_lsn
    return LogTail([(first, segment_path(wal_dir, first), HEADER_SIZE)], first)


def _cut(io: FileIO, path: Path, size: int, segment_size: int) -> None:
    """Drop everything after ``size`` so no stale bytes can follow new appends."""
    fd = io.open_existing(path)
    try:
        io.truncate(fd, size)
        io.allocate(fd, max(segment_size, size))
        io.fdatasync(fd)
    finally:
        io.close(fd)
