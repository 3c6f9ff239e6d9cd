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
import os
import shutil
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from rivetq.backup.layout import Catalog, Piece, Snapshot
from rivetq.backup.target import BackupTarget, open_target, s3_failures
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
_END_ZEROS = 4096
_DOWNLOADS = 16  # pieces fetched at once: a segment shipped every second is many small objects


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
    if data_dir.exists() and any(data_dir.iterdir()):
        raise InvalidArgument(f"{data_dir} is not empty: restore into a new directory", field="data_dir")
    target = open_target(source, endpoint=endpoint, region=region)
    with s3_failures(source):
        catalog = Catalog.read(target)
        snapshot = _choose_snapshot(catalog, to_ms, source)
        shipped = _ShippedLog(target, [piece for piece in catalog.pieces if to_ms is None or piece.ms <= to_ms])
        staging = data_dir.with_name(f".{data_dir.name}.restoring")
        shutil.rmtree(staging, ignore_errors=True)  # a restore interrupted before
        try:
            records = _rebuild(staging, target, snapshot, shipped)
            _check(replace(engine or LocalOptions(staging), data_dir=staging))
            os.replace(staging, data_dir)  # over an empty directory too
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    restored_to = max(snapshot.ms, shipped.last_piece.ms if shipped.last_piece is not None else 0)
    return RestoreReport(snapshot.lsn, snapshot.lsn + records, restored_to, shipped.notes)


def _rebuild(data_dir: Path, target: BackupTarget, snapshot: Snapshot, shipped: _ShippedLog) -> int:
    """The snapshot's store and one segment of the records after it; returns their count."""
    (data_dir / "kv").mkdir(parents=True, mode=0o700)
    (data_dir / "wal").mkdir(mode=0o700)
    target.get_file(snapshot.key, data_dir / "kv" / "data.mdb")
    size, records = _write_log(data_dir / "wal", snapshot.lsn + 1, shipped.frames_after(snapshot.lsn))
    store = KVStore(data_dir / "kv", map_size=64 << 30)
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


class _ShippedLog:
    """The records the pieces hold, read one segment at a time."""

    def __init__(self, target: BackupTarget, pieces: list[Piece]) -> None:
        self._target = target
        self._segments = [(first, list(group)) for first, group in itertools.groupby(pieces, key=_segment_of)]
        self.notes: list[str] = []
        self.last_piece: Piece | None = None  # the last one that contributed

    def frames_after(self, after_lsn: int) -> Iterator[bytes]:
        """The frames of the records after ``after_lsn``, as far as they go without a gap."""
        start = max((i for i, (first, _) in enumerate(self._segments) if first <= after_lsn + 1), default=None)
        expected = None
        for first, group in self._segments[start:] if start is not None else ():
            if expected is not None and first != expected:
                self.notes.append(f"the shipped log stops at LSN {expected - 1}: segment {expected} is missing")
                return
            buf, used = _assemble(self._target, group)
            if not used:
                self.notes.append(f"the shipped log stops before segment {first}: no piece of it starts at its start")
                return
            scan = scan_segment(Path(group[0].key), buf, first, last=True)
            yield from (encode_frame(f.rtype, f.body) for i, f in enumerate(scan.records) if first + i > after_lsn)
            self.last_piece = used[-1]
            expected = first + len(scan.records)
            if scan.seal is None:
                return


def _segment_of(piece: Piece) -> int:
    return piece.segment


def _assemble(target: BackupTarget, pieces: list[Piece]) -> tuple[bytes, list[Piece]]:
    """A segment's bytes from its start, as far as its pieces reach without a gap. Pieces
    may overlap (a restarted shipper copies the segment again from its start): the
    longest one from each point is taken. The downloads run ``_DOWNLOADS`` at a time."""
    chosen: list[tuple[Piece, int]] = []  # each piece, and where in it the bytes needed start
    end = 0
    for piece in sorted(pieces, key=lambda piece: (piece.start, -piece.end)):
        if piece.start <= end < piece.end:
            chosen.append((piece, end - piece.start))
            end = piece.end
    with ThreadPoolExecutor(_DOWNLOADS, thread_name_prefix="rivetq-restore") as pool:
        parts = list(pool.map(lambda needed: target.get_bytes(needed[0].key)[needed[1] :], chosen))
    return b"".join(parts), [piece for piece, _ in chosen]


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


def _check(options: LocalOptions) -> None:
    """Open it as the server would (recovery, replay, a checkpoint), then verify it."""

    async def open_and_close() -> None:
        storage = LocalStorage(options)
        await storage.open()
        await storage.close()

    asyncio.run(open_and_close())
    problems = verify_data_dir(options.data_dir)
    if problems:
        raise StorageCorrupt("the restored data does not verify: " + "; ".join(problems))
