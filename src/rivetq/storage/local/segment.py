"""WAL segment files: ``<20-digit first LSN>.wal`` (lexical order is replay order), a
16-byte header, then write groups (a BATCH record and its data records), then zeros up
to the preallocated size."""

from __future__ import annotations

import errno
import os
import struct
from pathlib import Path
from typing import NamedTuple

from rivetq.storage.local.fileio import FileIO
from rivetq.storage.local.record import (
    BATCH_MAGIC,
    FRAME_HEADER,
    TYPE_BATCH,
    TYPE_SEAL,
    CorruptWAL,
    Frame,
    parse_batch,
    parse_seal,
    read_frame,
)

__all__ = [
    "HEADER_SIZE",
    "SegmentScan",
    "create_segment",
    "list_segments",
    "preallocate",
    "scan_groups",
    "scan_segment",
    "segment_path",
]

HEADER_SIZE = 16
_HEADER = struct.Struct("<8sQ")
_MAGIC = b"RVQWAL01"
_SUFFIX = ".wal"


def segment_path(wal_dir: Path, first_lsn: int) -> Path:
    return wal_dir / f"{first_lsn:020d}{_SUFFIX}"


def list_segments(wal_dir: Path) -> list[tuple[int, Path]]:
    """(first LSN, path) of every segment, in replay order. A directory that cannot be
    listed raises (``Path.glob`` would say "no segments", and the log would look empty)."""
    found = []
    with os.scandir(wal_dir) as entries:
        for entry in entries:
            stem = entry.name.removesuffix(_SUFFIX)
            if entry.name.endswith(_SUFFIX) and len(stem) == 20 and stem.isdigit():
                found.append((int(stem), wal_dir / entry.name))
    return sorted(found)


def preallocate(io: FileIO, fd: int, path: Path, size: int) -> None:
    """``size`` bytes for ``path``; failing, the error names the file, the size and the free space."""
    try:
        io.allocate(fd, size)
    except OSError as error:
        free = io.free_bytes(path.parent)
        message = f"cannot preallocate {size} bytes for WAL segment {path} ({free} bytes free): {error.strerror}"
        raise OSError(error.errno, message) from None


def create_segment(io: FileIO, wal_dir: Path, first_lsn: int, size: int) -> int:
    """A new preallocated segment, made visible under its name only once complete
    (temp file, fsync, rename, fsync of the directory). Returns its open fd."""
    final = segment_path(wal_dir, first_lsn)
    if final.exists():  # never replace a segment (its records would be gone)
        raise FileExistsError(errno.EEXIST, "WAL segment already exists", str(final))
    temp = final.with_name(final.name + ".tmp")
    if temp.exists():
        temp.unlink()
    fd = io.open_new(temp)
    visible = temp
    try:
        preallocate(io, fd, final, max(size, HEADER_SIZE))
        io.write_all(fd, _HEADER.pack(_MAGIC, first_lsn), 0)
        io.fdatasync(fd)
        io.rename(temp, final)
        visible = final
        io.fsync_dir(wal_dir)
    except BaseException:
        # Leave no segment behind: the writer keeps appending to the previous one,
        # and an empty file named after a later LSN would break the LSN sequence.
        io.close(fd)
        visible.unlink(missing_ok=True)
        raise
    return fd


class SegmentScan(NamedTuple):
    """What a segment holds: the data records of its complete write groups, where they
    end, and the damage found after them (``damage_at`` is None when the log ends in
    zeros); ``seal`` is the (first LSN, size) of the next segment if rotation closed it."""

    records: list[Frame]
    end: int
    damage_at: int | None
    reason: str
    seal: tuple[int, int] | None = None


def _read_group(buf: bytes, start: int, count: int, nbytes: int) -> tuple[list[Frame], int | None, str]:
    records: list[Frame] = []
    offset = start
    for _ in range(count):
        frame = read_frame(buf, offset)
        if not isinstance(frame, Frame) or frame.rtype == TYPE_BATCH:
            return records, offset, frame if isinstance(frame, str) else "write group ends early"
        records.append(frame)
        offset = frame.end
    if offset != start + nbytes:
        return records, offset, "write group size mismatch"
    return records, None, ""


def scan_groups(buf: bytes, start: int = HEADER_SIZE) -> SegmentScan:
    """The write groups from ``start`` (a group's start) up to the end, a seal, or damage."""
    records: list[Frame] = []
    offset = start
    while True:
        frame = read_frame(buf, offset)
        if frame is None:
            return SegmentScan(records, offset, None, "")
        if isinstance(frame, str):
            return SegmentScan(records, offset, offset, frame)
        if frame.rtype == TYPE_SEAL and (seal := parse_seal(frame.body)) is not None:
            return SegmentScan(records, frame.end, None, "", seal)
        group = parse_batch(frame.body) if frame.rtype == TYPE_BATCH else None
        if group is None:
            return SegmentScan(records, offset, offset, "record outside a write group")
        group_records, bad_at, reason = _read_group(buf, frame.end, *group)
        if bad_at is not None:
            return SegmentScan(records, offset, bad_at, reason)
        records.extend(group_records)
        offset = frame.end + group[1]


def has_group_after(buf: bytes, start: int) -> int | None:
    """The offset of a valid write-group start at or after ``start``, if any."""
    hit = buf.find(BATCH_MAGIC, start)
    while hit != -1:
        candidate = hit - FRAME_HEADER - 1
        if candidate >= start:
            frame = read_frame(buf, candidate)
            if isinstance(frame, Frame) and frame.rtype == TYPE_BATCH and parse_batch(frame.body) is not None:
                return candidate
        hit = buf.find(BATCH_MAGIC, hit + 1)
    return None


def scan_segment(path: Path, buf: bytes, expected_lsn: int, *, last: bool) -> SegmentScan:
    """Scan one segment. Damage counts as a torn tail (returned, to be cut off) only in
    the last segment and only if no complete write group follows it; anything else
    raises ``CorruptWAL`` naming the file and offset."""
    if len(buf) < HEADER_SIZE:
        raise CorruptWAL(str(path), 0, "segment shorter than its header")
    magic, first_lsn = _HEADER.unpack_from(buf, 0)
    if magic != _MAGIC:
        raise CorruptWAL(str(path), 0, "not a RivetQ WAL segment (bad magic)")
    if first_lsn != expected_lsn:
        raise CorruptWAL(str(path), 0, f"segment starts at LSN {first_lsn}, expected {expected_lsn}")
    scan = scan_groups(buf)
    problem_at = scan.damage_at if scan.damage_at is not None else scan.end
    later = has_group_after(buf, problem_at + 1 if scan.damage_at is not None else scan.end)
    if later is not None:
        where = scan.damage_at if scan.damage_at is not None else scan.end
        raise CorruptWAL(str(path), where, scan.reason or f"log resumes at offset {later} after an end marker")
    written_to = len(buf.rstrip(b"\x00"))  # C speed: segments are mostly preallocated zeros
    if not last and (scan.damage_at is not None or written_to > scan.end):
        raise CorruptWAL(str(path), problem_at, scan.reason or "bytes after the end of a closed segment")
    if scan.damage_at is None and written_to > scan.end:
        return SegmentScan(scan.records, scan.end, scan.end, "partial write after the last write group", scan.seal)
    return scan
