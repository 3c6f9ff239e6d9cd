"""``rivetqd restore``: rebuild a data directory from a backup, as of its latest point
or of a given time, and check it with the engine's own recovery and ``wal verify``.

The restored directory holds the snapshot's store and one new WAL segment starting
right after the snapshot's LSN, with every shipped record after it (up to the target
time, without a gap) written again as write groups. The store's record of the newest
segment (``\\x00wal_tail``) is rewritten to name that segment, so the log legitimately
ending earlier than the original is not taken for a lost one."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rivetq.backup.layout import Catalog, Piece, Snapshot
from rivetq.backup.target import BackupTarget, open_target
from rivetq.errors import InvalidArgument, StorageCorrupt
from rivetq.storage.local.backend import LocalStorage
from rivetq.storage.local.fileio import FileIO
from rivetq.storage.local.kv import KVStore
from rivetq.storage.local.options import LocalOptions
from rivetq.storage.local.record import batch_frame, encode_frame
from rivetq.storage.local.segment import HEADER_SIZE, create_segment, scan_segment
from rivetq.storage.local.verify import verify_data_dir

__all__ = ["RestoreReport", "parse_time_ms", "restore"]

_GROUP_RECORDS = 10_000
_GROUP_BYTES = 16 << 20


@dataclass(frozen=True)
class RestoreReport:
    snapshot_lsn: int
    last_lsn: int  # the last record restored
    restored_to_ms: int  # when the last piece restored (or the snapshot) was stored
    notes: list[str]

    def summary(self, data_dir: str) -> str:
        when = datetime.fromtimestamp(self.restored_to_ms / 1000, UTC).isoformat(timespec="milliseconds")
        return (
            f"restored {data_dir}: snapshot at LSN {self.snapshot_lsn}, log replayed to LSN {self.last_lsn} "
            f"(shipped at {when}); verified"
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
    source: str, data_dir: Path, *, to_ms: int | None = None, endpoint: str = "", region: str = ""
) -> RestoreReport:
    if data_dir.exists() and any(data_dir.iterdir()):
        raise InvalidArgument(f"{data_dir} is not empty: restore into a new directory", field="data_dir")
    target = open_target(source, endpoint=endpoint, region=region)
    catalog = Catalog.read(target)
    snapshot = _choose_snapshot(catalog, to_ms, source)
    pieces = [piece for piece in catalog.pieces if to_ms is None or piece.ms <= to_ms]
    notes: list[str] = []
    frames, last_piece = _records_after(target, pieces, snapshot.lsn, notes)
    (data_dir / "kv").mkdir(parents=True, mode=0o700)
    (data_dir / "wal").mkdir(mode=0o700)
    target.get_file(snapshot.key, data_dir / "kv" / "data.mdb")
    size = _write_log(data_dir / "wal", snapshot.lsn + 1, frames)
    store = KVStore(data_dir / "kv", map_size=64 << 30)
    try:
        store.write({}, snapshot.lsn, (snapshot.lsn + 1, size))
    finally:
        store.close()
    _check(data_dir)
    restored_to = max(snapshot.ms, last_piece.ms if last_piece is not None else 0)
    return RestoreReport(snapshot.lsn, snapshot.lsn + len(frames), restored_to, notes)


def _choose_snapshot(catalog: Catalog, to_ms: int | None, source: str) -> Snapshot:
    candidates = [snapshot for snapshot in catalog.snapshots if to_ms is None or snapshot.ms <= to_ms]
    if not candidates:
        when = "" if to_ms is None else " taken at or before the given time"
        raise InvalidArgument(f"{source} holds no snapshot{when}", field="source")
    return max(candidates, key=lambda snapshot: (snapshot.lsn, snapshot.ms))


def _records_after(
    target: BackupTarget, pieces: list[Piece], after_lsn: int, notes: list[str]
) -> tuple[list[bytes], Piece | None]:
    """The frames of the records after ``after_lsn`` the pieces hold without a gap, and
    the last piece that contributed."""
    segments = [(first, list(group)) for first, group in itertools.groupby(pieces, key=lambda piece: piece.segment)]
    start = max((index for index, (first, _) in enumerate(segments) if first <= after_lsn + 1), default=None)
    frames: list[bytes] = []
    last_piece: Piece | None = None
    expected = None
    for first, group in segments[start:] if start is not None else ():
        if expected is not None and first != expected:
            notes.append(f"the shipped log stops at LSN {expected - 1}: segment {expected} is missing")
            break
        buf, used = _assemble(target, group)
        if not used:
            notes.append(f"the shipped log stops before segment {first}: none of its pieces starts at its start")
            break
        scan = scan_segment(Path(group[0].key), buf, first, last=True)
        frames += [encode_frame(f.rtype, f.body) for i, f in enumerate(scan.records) if first + i > after_lsn]
        last_piece = used[-1] if used else last_piece
        expected = first + len(scan.records)
        if scan.seal is None:
            break
    return frames, last_piece


def _assemble(target: BackupTarget, pieces: list[Piece]) -> tuple[bytes, list[Piece]]:
    """A segment's bytes from its start, as far as its pieces reach without a gap
    (pieces may overlap: a restarted shipper copies the segment again from its start)."""
    parts: list[bytes] = []
    used: list[Piece] = []
    end = 0
    for piece in pieces:
        if piece.start <= end < piece.end:
            parts.append(target.get_bytes(piece.key)[end - piece.start :])
            used.append(piece)
            end = piece.end
    return b"".join(parts), used


def _groups(frames: list[bytes]) -> Iterator[bytes]:
    group: list[bytes] = []
    size = 0
    for frame in frames:
        if group and (len(group) >= _GROUP_RECORDS or size + len(frame) > _GROUP_BYTES):
            yield batch_frame(len(group), size) + b"".join(group)
            group, size = [], 0
        group.append(frame)
        size += len(frame)
    if group:
        yield batch_frame(len(group), size) + b"".join(group)


def _write_log(wal_dir: Path, first_lsn: int, frames: list[bytes]) -> int:
    """One segment holding ``frames``; returns its size."""
    io = FileIO()
    data = b"".join(_groups(frames))
    size = HEADER_SIZE + len(data) + 4096  # zeros after the last group: where the log ends
    fd = create_segment(io, wal_dir, first_lsn, size)
    try:
        io.write_all(fd, data, HEADER_SIZE)
        io.fdatasync(fd)
    finally:
        io.close(fd)
    return size


def _check(data_dir: Path) -> None:
    """Open it as the server would (recovery, replay, a checkpoint), then verify it."""

    async def open_and_close() -> None:
        storage = LocalStorage(LocalOptions(data_dir))
        await storage.open()
        await storage.close()

    asyncio.run(open_and_close())
    problems = verify_data_dir(data_dir)
    if problems:
        raise StorageCorrupt(f"the restored {data_dir} does not verify: " + "; ".join(problems))
