"""``rivetqd restore``: rebuild a data directory from a backup, as of its latest point
or of a given time, and check it with the engine's own recovery and ``wal verify``.

The restored directory holds the snapshot's store and one new WAL segment starting
right after the snapshot's LSN, with every shipped record after it (up to the target
time, without a gap) written again as write groups. The store's record of the newest
segment (``\\x00wal_tail``) is rewritten to name that segment, so the log legitimately
ending earlier than the original is not taken for a lost one.

Pieces are written whole, so any damage in one (even in its last record, which a live
log would take for a torn tail) fails the restore, naming the piece and the offset in
it; a gap in the pieces ends the restore there, with a note naming it."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from rivetq.backup.layout import Catalog, Piece, Snapshot
from rivetq.backup.target import BackupTarget, DirTarget, fsync_dir, open_target, s3_failures
from rivetq.errors import InvalidArgument, StorageCorrupt
from rivetq.storage.local.backend import LocalStorage
from rivetq.storage.local.fileio import FileIO
from rivetq.storage.local.kv import DATA_FILE, KVStore
from rivetq.storage.local.options import LocalOptions
from rivetq.storage.local.record import CorruptWAL, batch_frame, encode_frame
from rivetq.storage.local.segment import HEADER_SIZE, SegmentScan, create_segment, scan_groups, scan_segment
from rivetq.storage.local.verify import verify_data_dir

__all__ = ["RestoreReport", "parse_time_ms", "restore"]

_GROUP_RECORDS = 10_000
_GROUP_BYTES = 16 << 20
_END_ZEROS = 4096
_DOWNLOADS = 16  # pieces fetched at once: a segment shipped every second is many small objects
_PRIVATE_DIR = 0o700  # as the engine makes its directories (docs/durability.md)
_PRIVATE_FILE = 0o600


@dataclass(frozen=True)
class RestoreReport:
    snapshot_lsn: int
    last_lsn: int  # the last record restored
    restored_to_ms: int  # when the last piece restored (or the snapshot) was stored
    notes: list[str]  # gaps in the shipped log: the restore stopped at the first

    def summary(self, data_dir: str) -> str:
        when = datetime.fromtimestamp(self.restored_to_ms / 1000, UTC).isoformat(timespec="milliseconds")
        gap = ", where the shipped log has a gap (see the note)" if self.notes else ""
        return (
            f"restored {data_dir}: snapshot at LSN {self.snapshot_lsn}, log replayed to LSN {self.last_lsn} "
            f"(shipped at {when}){gap}; verified"
        )


def parse_time_ms(text: str) -> int:
    """An RFC 3339 time (``2026-01-02T15:04:05Z``; no zone: UTC) → unix ms."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(f"--to: expected a time such as 2026-01-02T15:04:05Z, got {text!r}", field="to") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def restore(
    source: str,
    data_dir: Path,
    *,
    to_ms: int | None = None,
    endpoint: str = "",
    region: str = "",
    engine: LocalOptions | None = None,
) -> RestoreReport:
    """Rebuild ``data_dir`` (absent or empty) from the backup at ``source``. It is built
    beside it and renamed into place once verified, so a failed restore leaves nothing
    half-done; ``engine`` gives the options the server will open it with (its
    ``data_dir`` is ignored)."""
    data_dir = data_dir.absolute()
    _require_new_dir(data_dir)
    target = open_target(source, endpoint=endpoint, region=region)
    _require_source(target, source)
    with s3_failures(source):
        catalog = Catalog.read(target)
        snapshot = _choose_snapshot(catalog, to_ms, source)
        shipped = _ShippedLog(target, [piece for piece in catalog.pieces if to_ms is None or piece.ms <= to_ms])
        staging = data_dir.with_name(f".{data_dir.name}.restoring")
        shutil.rmtree(staging, ignore_errors=True)  # a restore interrupted before
        try:
            _make_staging(staging, data_dir)
            records = _rebuild(staging, target, snapshot, shipped)
            _check(replace(engine or LocalOptions(staging), data_dir=staging), _location(target, snapshot.key))
            os.replace(staging, data_dir)  # over an empty directory too
            fsync_dir(data_dir.parent)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    restored_to = max(snapshot.ms, shipped.last_piece.ms if shipped.last_piece is not None else 0)
    return RestoreReport(snapshot.lsn, snapshot.lsn + records, restored_to, shipped.notes)


def _require_new_dir(data_dir: Path) -> None:
    """A restore replaces ``data_dir`` whole: it must be absent or an empty directory."""
    try:
        if data_dir.exists() and not data_dir.is_dir():
            raise InvalidArgument(f"{data_dir} is not a directory: restore into a new directory", field="data_dir")
        if data_dir.is_dir() and any(data_dir.iterdir()):
            raise InvalidArgument(f"{data_dir} is not empty: restore into a new directory", field="data_dir")
    except OSError as error:
        raise InvalidArgument(f"{data_dir} cannot be read: {error.strerror}", field="data_dir") from None


def _require_source(target: BackupTarget, source: str) -> None:
    """A directory that is not there would list as an empty backup ("holds no snapshot")."""
    if isinstance(target, DirTarget) and not target.root.is_dir():
        state = "is not a directory" if target.root.exists() else "does not exist"
        raise InvalidArgument(f"{source} {state}: there is no backup to restore", field="source")


def _make_staging(staging: Path, data_dir: Path) -> None:
    """The directory the restore is built in; missing parents are made as the engine
    makes the parents of its data directory."""
    try:
        staging.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir(mode=_PRIVATE_DIR)
    except OSError as error:
        where = Path(error.filename or staging)
        reason = "not a directory" if where.exists() and not where.is_dir() else error.strerror
        raise InvalidArgument(f"cannot restore into {data_dir}: {where}: {reason}", field="data_dir") from None


def _location(target: BackupTarget, key: str) -> str:
    """Where an object of the backup is, for errors and notes."""
    return f"{target.url.rstrip('/')}/{key}"


def _rebuild(data_dir: Path, target: BackupTarget, snapshot: Snapshot, shipped: _ShippedLog) -> int:
    """The snapshot's store and one segment of the records after it; returns their count."""
    kv_dir, wal_dir = data_dir / "kv", data_dir / "wal"
    kv_dir.mkdir(mode=_PRIVATE_DIR)
    wal_dir.mkdir(mode=_PRIVATE_DIR)
    target.get_file(snapshot.key, kv_dir / DATA_FILE)
    os.chmod(kv_dir / DATA_FILE, _PRIVATE_FILE)  # a download gets the process's default mode
    size, records = _write_log(wal_dir, snapshot.lsn + 1, shipped.frames_after(snapshot.lsn))
    with _naming_snapshot(kv_dir, _location(target, snapshot.key)):
        store = KVStore(kv_dir, map_size=64 << 30)
        try:
            store.write({}, snapshot.lsn, (snapshot.lsn + 1, size))
        finally:
            store.close()
    return records


def _choose_snapshot(catalog: Catalog, to_ms: int | None, source: str) -> Snapshot:
    candidates = [snapshot for snapshot in catalog.snapshots if to_ms is None or snapshot.ms <= to_ms]
    if not candidates:
        when = "" if to_ms is None else " taken at or before the given time"
        raise InvalidArgument(f"{source} holds no snapshot{when}", field="source")
    return max(candidates, key=lambda snapshot: (snapshot.lsn, snapshot.ms))


class _Assembled(NamedTuple):
    """A segment's bytes from its start, as far as its pieces reach without a gap; the
    pieces they came from, and those present beyond that reach (after a gap)."""

    data: bytes
    used: list[Piece]
    beyond: list[Piece]

    @property
    def reach(self) -> int:
        return self.used[-1].end if self.used else 0

    def piece_at(self, offset: int) -> Piece:
        """The piece the byte at ``offset`` of the segment came from (the last one for the end)."""
        return next((piece for piece in self.used if offset < piece.end), self.used[-1])


class _ShippedLog:
    """The records the pieces hold, read one segment at a time."""

    def __init__(self, target: BackupTarget, pieces: list[Piece]) -> None:
        self._target = target
        self._segments = [(first, list(group)) for first, group in itertools.groupby(pieces, key=_segment_of)]
        self._newest_lsn = max((piece.last_lsn for piece in pieces), default=0)
        self.notes: list[str] = []
        self.last_piece: Piece | None = None  # the last one that contributed

    def frames_after(self, after_lsn: int) -> Iterator[bytes]:
        """The frames of the records after ``after_lsn``, as far as they go without a gap;
        a gap before the last piece present is noted."""
        needed = after_lsn + 1  # the next record to restore
        sealed_into: int | None = None  # the segment the last one read names as its successor
        for index, (first, pieces) in enumerate(self._segments):
            if max(piece.last_lsn for piece in pieces) < needed:
                continue  # the snapshot holds all of it
            if first > needed:
                self.notes.append(self._missing_records(needed, first, pieces[0], sealed_into))
                return
            segment = _assemble(self._target, pieces)
            scan = _scan_whole(self._target, segment, first) if segment.used else None
            records = scan.records if scan is not None else []
            yield from (encode_frame(frame.rtype, frame.body) for frame in records[needed - first :])
            needed = max(needed, first + len(records))
            if segment.used:
                self.last_piece = segment.used[-1]
            sealed_into = scan.seal[0] if scan is not None and scan.seal is not None else None
            if (note := self._gap_at_end(needed - 1, index, segment, sealed_into)) is not None:
                self.notes.append(note)
            if sealed_into is None or segment.beyond:
                return

    def _missing_records(self, needed: int, first: int, resumes: Piece, sealed_into: int | None) -> str:
        if sealed_into == needed:
            return self._gap(needed - 1, f"segment {needed} is missing", resumes)
        return self._gap(needed - 1, f"no piece holds LSN {needed} to {first - 1}", resumes)

    def _gap_at_end(self, replayed: int, index: int, segment: _Assembled, sealed_into: int | None) -> str | None:
        """The note for a segment read up to a gap: pieces of it beyond the gap, or later
        segments while it ends without the record that closes it."""
        first = self._segments[index][0]
        if segment.beyond:
            missing = f"no piece holds bytes {segment.reach} to {segment.beyond[0].start} of WAL segment {first}"
            return self._gap(replayed, missing, segment.beyond[0])
        if sealed_into is None and index + 1 < len(self._segments):
            missing = f"WAL segment {first} ends at byte {segment.reach} without the record that closes it"
            return self._gap(replayed, missing, self._segments[index + 1][1][0])
        return None

    def _gap(self, replayed: int, missing: str, resumes: Piece) -> str:
        first_lsn = self._first_lsn_in(resumes)
        at = f"LSN {first_lsn} in " if first_lsn is not None else ""
        lost_from = None if first_lsn is None else max(first_lsn, replayed + 1)  # the snapshot may hold some
        records = f"up to {self._newest_lsn}" if lost_from is None else f"{lost_from} to {self._newest_lsn}"
        return (
            f"the shipped log stops at LSN {replayed}: {missing}; it resumes at {at}"
            f"{_location(self._target, resumes.key)}: records {records} are in the backup but not restored"
        )

    def _first_lsn_in(self, piece: Piece) -> int | None:
        """The first record of ``piece`` (None if its groups do not parse)."""
        if piece.start == 0:
            return piece.segment
        count = _records_in(self._target.get_bytes(piece.key))
        return None if count is None else piece.last_lsn - count + 1


def _segment_of(piece: Piece) -> int:
    return piece.segment


def _assemble(target: BackupTarget, pieces: list[Piece]) -> _Assembled:
    """Pieces may overlap (a restarted shipper copies the segment again from its start):
    the longest one from each point is taken. The downloads run ``_DOWNLOADS`` at a time."""
    chosen: list[tuple[Piece, int]] = []  # each piece, and where in it the bytes needed start
    end = 0
    for piece in sorted(pieces, key=lambda piece: (piece.start, -piece.end)):
        if piece.start <= end < piece.end:
            chosen.append((piece, end - piece.start))
            end = piece.end
    with ThreadPoolExecutor(_DOWNLOADS, thread_name_prefix="rivetq-restore") as pool:
        parts = list(pool.map(lambda needed: target.get_bytes(needed[0].key)[needed[1] :], chosen))
    beyond = sorted((piece for piece in pieces if piece.end > end), key=lambda piece: piece.start)
    return _Assembled(b"".join(parts), [piece for piece, _ in chosen], beyond)


def _scan_whole(target: BackupTarget, segment: _Assembled, first: int) -> SegmentScan:
    """Every record of the assembled pieces, which must end where the last piece ends: a
    piece is written whole, so a bad record at its end is damage, not a torn write."""
    try:
        scan = scan_segment(Path(segment.used[0].key), segment.data, first, last=True)
    except CorruptWAL as error:
        raise _corrupt_piece(target, segment, error.offset, error.reason) from None
    if scan.damage_at is not None:
        raise _corrupt_piece(target, segment, scan.damage_at, scan.reason)
    if scan.end != len(segment.data):
        raise _corrupt_piece(target, segment, scan.end, "zeros where the piece holds records")
    return scan


def _corrupt_piece(target: BackupTarget, segment: _Assembled, offset: int, reason: str) -> CorruptWAL:
    """Damage at ``offset`` of the segment, named by the piece holding it and the offset in it."""
    piece = segment.piece_at(offset)
    return CorruptWAL(_location(target, piece.key), offset - piece.start, reason)


def _records_in(data: bytes) -> int | None:
    """How many records the write groups of a piece hold (a piece starts at a group's
    start); None if they do not parse."""
    scan = scan_groups(data, start=0)
    return None if scan.damage_at is not None else len(scan.records)


def _groups(frames: Iterable[bytes]) -> Iterator[tuple[bytes, int]]:
    """Write groups of at most ``_GROUP_RECORDS`` records or ``_GROUP_BYTES``, with their record counts."""
    group: list[bytes] = []
    size = 0
    for frame in frames:
        if group and (len(group) >= _GROUP_RECORDS or size + len(frame) > _GROUP_BYTES):
            yield batch_frame(len(group), size) + b"".join(group), len(group)
            group, size = [], 0
        group.append(frame)
        size += len(frame)
    if group:
        yield batch_frame(len(group), size) + b"".join(group), len(group)


def _write_log(wal_dir: Path, first_lsn: int, frames: Iterable[bytes]) -> tuple[int, int]:
    """One segment holding ``frames``, written as they come; returns its size and record count."""
    io = FileIO()
    fd = create_segment(io, wal_dir, first_lsn, HEADER_SIZE)
    offset, records = HEADER_SIZE, 0
    try:
        for group, count in _groups(frames):
            io.write_all(fd, group, offset)
            offset, records = offset + len(group), records + count
        size = offset + _END_ZEROS  # zeros after the last group: where the log ends
        io.truncate(fd, size)
        io.fdatasync(fd)
    finally:
        io.close(fd)
    return size, records


@contextmanager
def _naming_snapshot(kv_dir: Path, snapshot: str) -> Iterator[None]:
    """Damage the engine finds in the store is damage in the snapshot it was downloaded
    from: the error names that, not the temporary directory the restore is built in."""
    try:
        yield
    except StorageCorrupt as error:
        message = str(error).replace(f"key-value store {kv_dir}", f"snapshot {snapshot}")
        message = message.replace(str(kv_dir / DATA_FILE), snapshot)
        if message == str(error):
            raise
        raise StorageCorrupt(message) from error


def _check(options: LocalOptions, snapshot: str) -> None:
    """Open it as the server would (recovery, replay, a checkpoint), then verify it."""

    async def open_and_close() -> None:
        storage = LocalStorage(options)
        await storage.open()
        await storage.close()

    with _naming_snapshot(options.data_dir / "kv", snapshot):
        asyncio.run(open_and_close())
        problems = verify_data_dir(options.data_dir)
        if problems:
            raise StorageCorrupt("the restored data does not verify: " + "; ".join(problems))
