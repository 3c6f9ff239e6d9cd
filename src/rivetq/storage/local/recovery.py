"""Reading the WAL back at startup: check every segment, hand the records after the
checkpoint's LSN to the caller, and cut a torn tail off the last segment.

The log knows where it ends: a segment closed by rotation ends with a SEAL record naming
the next segment (its first LSN and size), and each checkpoint records the newest segment
in the key-value store. A missing or cut segment is therefore a ``LostWAL``, not a
shorter log; with ``accept_loss`` the loss is logged and the log goes on from what is left.
A log that starts after record 1 beside a store that knows nothing of it (no checkpoint,
no recorded log end: the store was lost and created anew) is ``LostStore`` instead, never
accepted: going on would start an empty server.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from rivetq.storage.local.fileio import FileIO
from rivetq.storage.local.kv import LostStore, store_file_of
from rivetq.storage.local.record import FRAME_HEADER, Frame, LostWAL
from rivetq.storage.local.segment import (
    HEADER_SIZE,
    SegmentScan,
    create_segment,
    list_segments,
    preallocate,
    scan_segment,
    segment_path,
)

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
    sizes: dict[Path, int]  # the size each kept segment must keep (preallocated)
    losses: list[LostWAL]  # accepted losses (only with accept_loss)
    cut_off: list[Path]  # segments after a gap, set aside when a loss is accepted
    sealed: tuple[int, int] | None  # the last kept segment's seal: the segment to recreate


class _Expect(NamedTuple):
    after_lsn: int
    wal_tail: tuple[int, int] | None  # (first LSN, size) of the newest segment at the checkpoint
    accept_loss: bool


def _is_empty(path: Path) -> bool:
    with path.open("rb") as file:
        file.seek(HEADER_SIZE)
        return not any(file.read(FRAME_HEADER))


class _Scanner:
    """One pass over the segments, collecting what ``recover_log`` acts on."""

    def __init__(self, wal_dir: Path, expect: _Expect, replay: ReplayFn | None) -> None:
        self.wal_dir, self.expect, self.replay = wal_dir, expect, replay
        self.kept: list[tuple[int, Path, int]] = []
        self.torn: list[tuple[Path, int, int, str]] = []
        self.strays: list[Path] = []
        self.sizes: dict[Path, int] = {}
        self.losses: list[LostWAL] = []
        self.cut_off: list[Path] = []
        self.seal: tuple[int, int] | None = None
        self.lsn = expect.after_lsn + 1

    def lost(self, path: Path, reason: str) -> None:
        if not self.expect.accept_loss:
            raise LostWAL(str(path), 0, f"{reason} (to start without it: rivetqd --accept-wal-loss, once)")
        self.losses.append(LostWAL(str(path), 0, reason))

    def check_start(self, first: int, path: Path) -> None:
        """A log that starts after record 1 was checkpointed, and every start records the
        log's end in the store: a store beside it that holds neither was created anew
        after the real one was lost, and the records before ``first`` are nowhere."""
        store_file = store_file_of(self.wal_dir)
        knows_nothing = self.expect.after_lsn == 0 and self.expect.wal_tail is None
        if first > 1 and knows_nothing and store_file.exists():
            raise LostStore(store_file, "a new store that holds no checkpoint (created after it was lost)", path, first)

    def run(self, segments: list[tuple[int, Path]]) -> None:
        if segments:
            self.check_start(*segments[0])
        if segments and segments[0][0] > self.lsn:
            self.lost(segments[0][1], f"records {self.lsn}..{segments[0][0] - 1} are missing")
            self.cut_off = [path for _, path in segments]
            return
        if segments:
            self.lsn = segments[0][0]
        empty = [_is_empty(path) for _, path in segments]
        for index, (first, path) in enumerate(segments):
            if first < self.lsn and empty[index]:
                self.strays.append(path)
                continue
            if first != self.lsn:
                missing = segment_path(self.wal_dir, self.lsn)
                self.lost(missing, f"segment missing: records {self.lsn}..{first - 1} are gone ({path.name} follows)")
                self.cut_off = [path for _, path in segments[index:]]
                return
            self.segment(first, path, last=all(empty[index + 1 :]))

    def segment(self, first: int, path: Path, *, last: bool) -> None:
        buf = path.read_bytes()
        self.check_size(path, first, len(buf))
        scan: SegmentScan = scan_segment(path, buf, first, last=last)
        for frame in scan.records:
            if self.replay is not None and self.lsn > self.expect.after_lsn:
                self.replay(self.lsn, frame)
            self.lsn += 1
        if scan.damage_at is not None:
            self.torn.append((path, scan.end, scan.damage_at, scan.reason))
        self.kept.append((first, path, scan.end))
        self.seal = scan.seal

    def check_size(self, path: Path, first: int, size: int) -> None:
        """A segment is never shorter than it was preallocated: shorter, it was cut."""
        expected = self.seal[1] if self.seal is not None else 0
        tail = self.expect.wal_tail
        if tail is not None and tail[0] == first:
            expected = max(expected, tail[1])
        if size < expected:
            self.lost(path, f"segment cut to {size} bytes of the {expected} it was created with")
        self.sizes[path] = max(size, expected)

    def check_end(self) -> None:
        """Nothing after the last segment that the log says exists."""
        if self.seal is not None:
            missing = segment_path(self.wal_dir, self.seal[0])
            self.lost(missing, f"segment missing: {self.kept[-1][1].name} was closed naming it as the next one")
            return
        tail = self.expect.wal_tail
        if tail is not None and not any(first >= tail[0] for first, _, _ in self.kept):
            missing = segment_path(self.wal_dir, tail[0])
            self.lost(missing, f"segment missing: the checkpoint at LSN {self.expect.after_lsn} recorded it")
        elif self.kept and self.lsn - 1 < self.expect.after_lsn:
            path = self.kept[-1][1]
            self.lost(path, f"log ends at LSN {self.lsn - 1}, before checkpoint {self.expect.after_lsn}")
        elif not self.kept and self.expect.after_lsn > 0 and not self.cut_off:
            self.lost(self.wal_dir, f"no WAL segments, but the checkpoint is at LSN {self.expect.after_lsn}")


def scan_log(
    wal_dir: Path,
    *,
    after_lsn: int,
    replay: ReplayFn | None,
    wal_tail: tuple[int, int] | None = None,
    accept_loss: bool = False,
) -> _Found:
    """Check the whole log (raising ``CorruptWAL``) and replay records after ``after_lsn``.
    ``wal_tail`` is the newest segment the last checkpoint recorded."""
    found = list_segments(wal_dir)
    needed = max((i for i, (first, _) in enumerate(found) if first <= after_lsn + 1), default=0)
    scanner = _Scanner(wal_dir, _Expect(after_lsn, wal_tail, accept_loss), replay)
    scanner.run(found[needed:])
    scanner.check_end()
    sealed = scanner.seal if scanner.losses else None
    return _Found(
        LogTail(scanner.kept, scanner.lsn),
        scanner.torn,
        scanner.strays,
        [path for _, path in found[:needed]],
        scanner.sizes,
        scanner.losses,
        scanner.cut_off,
        sealed,
    )


def recover_log(
    io: FileIO,
    wal_dir: Path,
    *,
    after_lsn: int,
    segment_size: int,
    replay: ReplayFn,
    wal_tail: tuple[int, int] | None = None,
    accept_loss: bool = False,
) -> LogTail:
    """Replay, cut any torn tail (with a warning), and make sure a segment is open for
    appends. Leftover temp files of an interrupted rotation are removed first."""
    wal_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for temp in wal_dir.glob("*.wal.tmp"):
        temp.unlink()
    found = scan_log(wal_dir, after_lsn=after_lsn, replay=replay, wal_tail=wal_tail, accept_loss=accept_loss)
    for stray in found.strays:
        log.warning("WAL: removing %s, an empty segment left by an interrupted rotation", stray)
        io.unlink(stray)
    for path in found.obsolete:
        io.unlink(path)
    _set_aside(io, found)
    if found.strays or found.obsolete or found.cut_off:
        io.fsync_dir(wal_dir)
    for path, cut_at, damage_at, reason in found.torn:
        log.warning("WAL torn tail in %s at offset %d (%s): cut back to offset %d", path, damage_at, reason, cut_at)
        _cut(io, path, cut_at, found.sizes[path])
    return _open_tail(io, wal_dir, found, segment_size)


def _set_aside(io: FileIO, found: _Found) -> None:
    """Log each accepted loss; rename the segments after a gap (kept, never deleted)."""
    for loss in found.losses:
        log.error("WAL loss accepted (--accept-wal-loss): %s", loss)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    for path in found.cut_off:
        aside = path.with_name(f"{path.name}.lost-{stamp}")
        log.error("WAL loss accepted: %s set aside as %s (its records are not replayed)", path, aside)
        io.rename(path, aside)
    for _, path, end in found.tail.segments:
        if os.stat(path).st_size < found.sizes[path]:  # a cut segment: preallocate it again
            _cut(io, path, end, found.sizes[path])


def _open_tail(io: FileIO, wal_dir: Path, found: _Found, segment_size: int) -> LogTail:
    """The log as the writer continues it: a new segment when there is none, or when the
    last one is sealed (its successor was lost and accepted)."""
    if found.tail.segments and found.sealed is None:
        return found.tail
    first = found.tail.next_lsn
    size = found.sealed[1] if found.sealed is not None else segment_size
    io.close(create_segment(io, wal_dir, first, size))
    segments = [*found.tail.segments, (first, segment_path(wal_dir, first), HEADER_SIZE)]
    return LogTail(segments, first)


def _cut(io: FileIO, path: Path, size: int, allocated: int) -> None:
    """Drop everything after ``size`` so no stale bytes can follow new appends, and keep
    the segment its preallocated size (a shorter one reads as cut)."""
    fd = io.open_existing(path)
    try:
        io.truncate(fd, size)
        preallocate(io, fd, path, max(allocated, size))
        io.fdatasync(fd)
    finally:
        io.close(fd)
