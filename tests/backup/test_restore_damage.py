"""What a restore does with a backup that is damaged or incomplete: a gap in the shipped
log, a damaged piece or snapshot, a bad source or data directory. Each backup is made
here by a real engine (a snapshot, then passes of the shipper's copier), then damaged
on disk and restored as ``rivetqd restore`` restores it."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rivetq.backup.copier import LogCopier
from rivetq.backup.layout import Catalog, Piece
from rivetq.backup.restore import RestoreReport, restore
from rivetq.backup.target import DirTarget
from rivetq.errors import StorageCorrupt
from rivetq.storage.local import LocalOptions, LocalStorage
from rivetq.storage.local.record import CorruptWAL
from tests.backup.engine import insert_jobs, opened_storage
from tests.backup.load import restore as rivetqd_restore

SEGMENT = 32 << 10
MARKER = b"restore-damage-marker"  # in every payload, so a test can find one in the snapshot


@dataclass(frozen=True)
class Backup:
    root: Path
    catalog: Catalog

    def location(self, piece: Piece) -> str:
        return f"{self.root}/{piece.key}"

    def segments(self) -> list[list[Piece]]:
        """The pieces of each segment, in log order."""
        firsts = sorted({piece.segment for piece in self.catalog.pieces})
        return [[piece for piece in self.catalog.pieces if piece.segment == first] for first in firsts]

    @property
    def newest_lsn(self) -> int:
        return max(piece.last_lsn for piece in self.catalog.pieces)

    def delete(self, piece: Piece) -> None:
        (self.root / piece.key).unlink()

    def flip(self, key: str, offset: int) -> None:
        """Damage one byte of an object in place, as a failing disk or bucket would."""
        path = self.root / key
        data = bytearray(path.read_bytes())
        data[offset] ^= 0xFF
        path.write_bytes(bytes(data))


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[LocalStorage]:
    async with opened_storage(tmp_path / "live", segment_size=SEGMENT) as opened:
        yield opened


async def _insert(storage: LocalStorage, first: int, count: int) -> None:
    await insert_jobs(storage, first, count, payload=b'"' + MARKER * 10 + b'"')


async def _shipped(storage: LocalStorage, root: Path, passes: list[int]) -> Backup:
    """A backup as the shipper makes one: a snapshot, then after each batch of ``passes``
    inserts a pass copying the new log (a piece per segment it reached)."""
    core = storage._core
    copier = LogCopier(core.wal, core.copy_store, root.parent, holder="test")
    target = DirTarget(root)
    _, position = await asyncio.to_thread(copier.snapshot, target)
    inserted = 0
    for count in passes:
        await _insert(storage, inserted, count)
        inserted += count
        position, _ = await asyncio.to_thread(copier.ship, target, position)
    copier.release()
    return Backup(root, Catalog.read(target))


@pytest.fixture
async def backup(storage: LocalStorage, tmp_path: Path) -> Backup:
    """Three passes within the first segment, one across several more, and one within the last."""
    shipped = await _shipped(storage, tmp_path / "backup", [20, 20, 20, 150, 10])
    segments = shipped.segments()
    assert len(segments) >= 3 and len(segments[0]) >= 4 and len(segments[-1]) == 2, "pieces inside and across segments"
    return shipped


def _restore_in_process(backup: Backup, data_dir: Path) -> RestoreReport:
    return restore(str(backup.root), data_dir, engine=LocalOptions(data_dir, space_reserve=1 << 20))


def _gap_note(backup: Backup, replayed: int, missing: str, resumes: Piece, first_lsn: int) -> str:
    return (
        f"the shipped log stops at LSN {replayed}: {missing}; it resumes at LSN {first_lsn} in "
        f"{backup.location(resumes)}: records {first_lsn} to {backup.newest_lsn} are in the backup but not restored"
    )


def test_a_gap_inside_a_segment_is_a_note_naming_it_and_the_restore_stops_before_it(
    backup: Backup, tmp_path: Path
) -> None:
    before, missing, after = backup.segments()[0][:3]
    backup.delete(missing)
    result = rivetqd_restore(str(backup.root), tmp_path / "restored", {})
    assert result.returncode == 0, result.stderr
    assert f"log replayed to LSN {before.last_lsn} " in result.stdout
    assert "where the shipped log has a gap (see the note); verified" in result.stdout
    where = f"no piece holds bytes {missing.start} to {missing.end} of WAL segment {missing.segment}"
    note = _gap_note(backup, before.last_lsn, where, after, missing.last_lsn + 1)
    assert f"note: {note}\n" in result.stderr


def test_a_segment_without_its_closing_piece_ends_the_restore_with_a_note_naming_the_next_segment(
    backup: Backup, tmp_path: Path
) -> None:
    first, second = backup.segments()[:2]
    *kept, closing = first
    backup.delete(closing)
    report = _restore_in_process(backup, tmp_path / "restored")
    assert report.last_lsn == kept[-1].last_lsn
    where = f"WAL segment {closing.segment} ends at byte {closing.start} without the record that closes it"
    assert report.notes == [_gap_note(backup, kept[-1].last_lsn, where, second[0], second[0].segment)]


def test_a_segment_without_its_first_piece_ends_the_restore_at_the_segment_before(
    backup: Backup, tmp_path: Path
) -> None:
    *_, before, last = backup.segments()
    missing, after = last
    backup.delete(missing)
    report = _restore_in_process(backup, tmp_path / "restored")
    assert report.last_lsn == before[-1].last_lsn
    where = f"no piece holds bytes 0 to {after.start} of WAL segment {missing.segment}"
    assert report.notes == [_gap_note(backup, before[-1].last_lsn, where, after, missing.last_lsn + 1)]


def test_a_damaged_last_record_of_the_newest_piece_fails_the_restore_naming_the_piece(
    backup: Backup, tmp_path: Path
) -> None:
    newest = backup.catalog.pieces[-1]
    size = newest.end - newest.start
    backup.flip(newest.key, size - 10)
    result = rivetqd_restore(str(backup.root), tmp_path / "restored", {})
    assert result.returncode == 1
    assert f"rivetqd restore: WAL corrupt in {backup.location(newest)} at offset " in result.stderr
    offset = int(result.stderr.split(" at offset ")[1].split(":")[0])
    assert 0 < offset < size - 10
    assert sorted(path.name for path in tmp_path.iterdir()) == ["backup", "live"], "nothing half-restored"


def test_damage_inside_a_later_piece_is_reported_in_that_piece_at_its_own_offset(
    backup: Backup, tmp_path: Path
) -> None:
    damaged = backup.segments()[0][2]
    flipped_at = (damaged.end - damaged.start) // 2
    backup.flip(damaged.key, flipped_at)
    with pytest.raises(CorruptWAL) as failure:
        _restore_in_process(backup, tmp_path / "restored")
    assert failure.value.path == backup.location(damaged)
    assert 0 <= failure.value.offset <= flipped_at


async def test_a_damaged_snapshot_is_reported_as_the_snapshot_in_the_backup(
    storage: LocalStorage, tmp_path: Path
) -> None:
    await _insert(storage, 0, 20)
    await storage.checkpoint()  # the jobs are in the store the snapshot copies
    backup = await _shipped(storage, tmp_path / "backup", [])
    [snapshot] = backup.catalog.snapshots
    backup.flip(snapshot.key, (backup.root / snapshot.key).read_bytes().index(MARKER) + 3)
    with pytest.raises(StorageCorrupt) as failure:
        await asyncio.to_thread(_restore_in_process, backup, tmp_path / "restored")
    message = str(failure.value)
    assert f"snapshot {backup.root}/{snapshot.key}: the record of job " in message
    assert "fails its checksum" in message and ".restoring" not in message


def test_a_data_dir_that_is_a_file_is_refused_in_one_line_and_left_alone(backup: Backup, tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("mine")
    result = rivetqd_restore(str(backup.root), a_file, {})
    assert result.returncode == 1
    assert result.stderr == f"rivetqd restore: {a_file} is not a directory: restore into a new directory\n"
    assert a_file.read_text() == "mine"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a-file", "backup", "live"]


def test_a_source_that_does_not_exist_is_named_as_such(tmp_path: Path) -> None:
    result = rivetqd_restore(str(tmp_path / "no-such-backup"), tmp_path / "restored", {})
    assert result.returncode == 1
    assert result.stderr == (
        f"rivetqd restore: {tmp_path / 'no-such-backup'} does not exist: there is no backup to restore\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_restored_data_directory_is_private_like_one_the_engine_makes(backup: Backup, tmp_path: Path) -> None:
    restored = tmp_path / "new" / "restored"
    _restore_in_process(backup, restored)
    for path in [restored, *restored.rglob("*")]:
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, path
