"""The backup pieces in process: WAL holds against checkpoints, retention, and what a
restore refuses or reports (the end-to-end runs are in test_shipping/test_online)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rivetq.backup.copier import LogCopier
from rivetq.backup.layout import Catalog, piece_key, snapshot_key
from rivetq.backup.options import BackupOptions
from rivetq.backup.restore import RestoreReport, parse_time_ms, restore
from rivetq.backup.retention import prune
from rivetq.backup.target import DirTarget, open_target
from rivetq.cli import rivetqd
from rivetq.errors import InvalidArgument, JobNotFound, StateConflict, StorageCorrupt
from rivetq.settings import load_settings
from rivetq.storage.local import LocalOptions, LocalStorage
from tests.backup.engine import insert_jobs, opened_storage

SEGMENT = 8192


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[LocalStorage]:
    async with opened_storage(tmp_path / "data", segment_size=SEGMENT) as opened:
        yield opened


async def _insert(storage: LocalStorage, first: int, count: int) -> None:
    await insert_jobs(storage, first, count, payload=b'"x"' * 100)


async def _exists(storage: LocalStorage, job_id: str) -> bool:
    try:
        await storage.get(job_id)
    except JobNotFound:
        return False
    return True


async def _restored(backup: Path, directory: Path, count: int) -> tuple[RestoreReport, list[int]]:
    """Restore ``backup`` into ``directory`` and open it: the report, and which of the
    jobs 0 to ``count`` - 1 are there."""
    engine = LocalOptions(directory, space_reserve=1 << 20)
    report = await asyncio.to_thread(restore, str(backup), engine.data_dir, engine=engine)
    restored = LocalStorage(engine)
    await restored.open()
    try:
        return report, [n for n in range(count) if await _exists(restored, f"job-{n:05d}")]
    finally:
        await restored.close()


def _segments(storage: LocalStorage) -> int:
    return int(storage.gauges()["wal_segments"])


async def test_checkpoints_keep_the_segments_a_backup_holds_until_the_log_outgrows_the_bound(
    storage: LocalStorage,
) -> None:
    wal = storage._core.wal
    wal.hold("test", 1)
    await _insert(storage, 0, 200)
    await storage.checkpoint()
    held = _segments(storage)
    assert held > 3
    wal.max_held_bytes = SEGMENT
    await storage.checkpoint()
    assert _segments(storage) < held
    wal.max_held_bytes = 0
    wal.hold("test", None)
    await _insert(storage, 200, 200)
    await storage.checkpoint()
    assert _segments(storage) <= 2


async def test_a_new_snapshot_keeps_the_log_a_copy_behind_it_still_needs(storage: LocalStorage, tmp_path: Path) -> None:
    core = storage._core
    copier = LogCopier(core.wal, core.copy_store, tmp_path, holder="test")
    target = DirTarget(tmp_path / "backup")
    _, behind = await asyncio.to_thread(copier.snapshot, target)
    await _insert(storage, 0, 100)
    await storage.checkpoint()
    await asyncio.to_thread(copier.snapshot, target, still_needed=behind.segment)
    await storage.checkpoint()
    _, last_lsn = await asyncio.to_thread(copier.ship, target, behind)
    assert last_lsn == core.wal.last_durable_lsn


class _FailingAfter(DirTarget):
    """A directory target whose uploads fail after ``puts`` of them (a bucket going away mid-pass)."""

    def __init__(self, root: Path, puts: int) -> None:
        super().__init__(root)
        self.puts = puts

    def put_bytes(self, key: str, data: bytes) -> None:
        if self.puts == 0:
            raise ConnectionError("the bucket went away")
        self.puts -= 1
        super().put_bytes(key, data)


async def test_a_pass_that_fails_midway_keeps_the_log_it_did_not_finish(storage: LocalStorage, tmp_path: Path) -> None:
    core = storage._core
    copier = LogCopier(core.wal, core.copy_store, tmp_path, holder="test")
    _, position = await asyncio.to_thread(copier.snapshot, DirTarget(tmp_path / "backup"))
    await _insert(storage, 0, 100)
    with pytest.raises(ConnectionError):
        await asyncio.to_thread(copier.ship, _FailingAfter(tmp_path / "backup", puts=2), position)
    await storage.checkpoint()
    _, last_lsn = await asyncio.to_thread(copier.ship, DirTarget(tmp_path / "backup"), position)
    assert last_lsn == core.wal.last_durable_lsn


async def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def _shipping(data_dir: Path, **backup: Any) -> LocalStorage:
    """An open engine shipping to ``backup["url"]``, once its first snapshot is out."""
    options = BackupOptions(**backup)
    storage = LocalStorage(
        LocalOptions(data_dir, segment_size=SEGMENT, fsync=False, space_reserve=1 << 20, backup=options)
    )
    await storage.open()
    await _until(lambda: storage.gauges()["backup_shipped_lsn"] >= 0)
    return storage


async def test_a_shipper_whose_log_was_deleted_unshipped_starts_again_from_a_fresh_snapshot(tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    storage = await _shipping(tmp_path / "data", url=str(backup), interval_ms=50, max_unshipped_bytes=2 * SEGMENT)
    try:
        backup.rename(tmp_path / "aside")
        backup.write_text("a file where the backup directory was: every upload fails")
        await _insert(storage, 0, 200)
        await _until(lambda: storage.gauges()["backup_upload_errors"] >= 1)
        await storage.checkpoint()  # the log is past max_unshipped: the shipper's segments go
        backup.unlink()
        (tmp_path / "aside").rename(backup)
        await _until(lambda: storage.gauges()["backup_lag_seconds"] == 0)
    finally:
        await storage.close()
    assert len(Catalog.read(DirTarget(backup)).snapshots) == 2
    _, present = await _restored(backup, tmp_path / "restored", 200)
    assert present == list(range(200))


async def test_a_restore_stops_at_a_gap_in_the_shipped_log_and_says_so(storage: LocalStorage, tmp_path: Path) -> None:
    await storage.checkpoint()
    await _insert(storage, 0, 100)
    result = await storage.backup(str(tmp_path / "backup"))
    target = DirTarget(tmp_path / "backup")
    pieces = Catalog.read(target).pieces
    segments = sorted({piece.segment for piece in pieces})
    assert len(segments) >= 3 and result.last_lsn == pieces[-1].last_lsn
    target.delete([piece.key for piece in pieces if piece.segment == segments[1]])
    report, present = await _restored(tmp_path / "backup", tmp_path / "restored", 100)
    assert report.last_lsn == segments[1] - 1
    [note] = report.notes
    assert note.startswith(f"the shipped log stops at LSN {segments[1] - 1}: segment {segments[1]} is missing; ")
    assert f"it resumes at LSN {segments[2]} in " in note and "are in the backup but not restored" in note
    assert present == list(range(len(present))) and 0 < len(present) < 100


def test_a_restore_refuses_a_directory_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "kept").write_text("mine")
    with pytest.raises(InvalidArgument, match="not empty"):
        restore(str(tmp_path / "backup"), tmp_path / "data")
    assert (tmp_path / "data" / "kept").read_text() == "mine"


async def test_backups_written_over_each_other_restore_from_their_overlapping_pieces(
    storage: LocalStorage, tmp_path: Path
) -> None:
    await _insert(storage, 0, 60)
    await storage.backup(str(tmp_path / "backup"))
    await _insert(storage, 60, 60)
    await storage.backup(str(tmp_path / "backup"))  # no checkpoint between: it copies the same log again
    pieces = Catalog.read(DirTarget(tmp_path / "backup")).pieces
    assert any(a.segment == b.segment and a.start < b.end and b.start < a.end for a, b in itertools.pairwise(pieces))
    _, present = await _restored(tmp_path / "backup", tmp_path / "restored", 120)
    assert present == list(range(120))


def test_a_restore_that_fails_leaves_nothing_behind(tmp_path: Path) -> None:
    DirTarget(tmp_path / "backup").put_bytes(snapshot_key(0, 1_000), b"not an LMDB file" * 512)
    with pytest.raises(StorageCorrupt):
        restore(str(tmp_path / "backup"), tmp_path / "data")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["backup"]


def test_a_restore_without_a_snapshot_before_the_time_names_what_is_missing(tmp_path: Path) -> None:
    target = DirTarget(tmp_path / "backup")
    target.put_bytes(snapshot_key(5, 2_000), b"not read")
    with pytest.raises(InvalidArgument, match="no snapshot taken at or before the given time"):
        restore(str(tmp_path / "backup"), tmp_path / "data", to_ms=1_999)
    assert not (tmp_path / "data").exists()


def test_restore_times_are_rfc3339_and_a_bad_one_names_the_flag() -> None:
    assert parse_time_ms("1970-01-01T00:00:01.5Z") == 1_500
    assert parse_time_ms("1970-01-01T01:00:00+01:00") == 0
    with pytest.raises(InvalidArgument, match="--to"):
        parse_time_ms("yesterday")


def test_retention_keeps_the_newest_older_snapshot_and_the_log_after_it(tmp_path: Path) -> None:
    target = DirTarget(tmp_path)
    for lsn, ms in ((10, 1_000), (20, 2_000), (30, 3_000)):
        target.put_bytes(snapshot_key(lsn, ms), b"")
    for segment, last in ((1, 14), (15, 24), (25, 40)):
        target.put_bytes(piece_key(segment, 0, 100, last, 3_000), b"")
    assert prune(target, Catalog.read(target), keep_since_ms=2_500) == 2
    catalog = Catalog.read(target)
    assert [snapshot.lsn for snapshot in catalog.snapshots] == [20, 30]
    assert [piece.segment for piece in catalog.pieces] == [15, 25]


def test_a_backup_url_must_be_a_directory_or_s3_with_a_bucket() -> None:
    with pytest.raises(InvalidArgument, match="names no bucket"):
        open_target("s3:///prefix")
    with pytest.raises(InvalidArgument, match="expected a directory"):
        open_target("ftp://host/path")


def test_backup_settings_are_checked_when_loaded() -> None:
    with pytest.raises(InvalidArgument, match=r"backup\.url: .ftp://host/x.: expected a directory"):
        load_settings(env={"RIVETQ_BACKUP_URL": "ftp://host/x"})
    postgres = {"RIVETQ_BACKUP_URL": "s3://b/p", "RIVETQ_STORAGE_BACKEND": "postgres", "RIVETQ_STORAGE_DSN": "host=db"}
    with pytest.raises(InvalidArgument, match="pg_dump"):
        load_settings(env=postgres)
    for inside in ("/srv/rq/data", "/srv/rq/data/wal", "/srv/rq"):  # the data dir, in it, around it
        with pytest.raises(InvalidArgument, match=r"backup\.url: .* storage\.data_dir \(/srv/rq/data\)"):
            load_settings(env={"RIVETQ_BACKUP_URL": inside, "RIVETQ_STORAGE_DATA_DIR": "/srv/rq/data"})
    apart = {"RIVETQ_BACKUP_URL": "/srv/rq/backup", "RIVETQ_STORAGE_DATA_DIR": "/srv/rq/data"}
    assert load_settings(env=apart).backup.url == "/srv/rq/backup"
    settings = load_settings(env={"RIVETQ_BACKUP_INTERVAL": "250ms", "RIVETQ_BACKUP_MAX_UNSHIPPED": "64MiB"})
    assert (settings.backup.interval_ms, settings.backup.max_unshipped) == (250, 64 << 20)


def test_rivetqd_restore_says_what_it_needs(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(rivetqd.main, ["restore", "--data-dir", str(tmp_path / "data")])
    assert missing.exit_code == 2 and "rivetqd restore SOURCE --data-dir DIR" in missing.output
    bad_time = runner.invoke(rivetqd.main, ["restore", str(tmp_path), "--data-dir", str(tmp_path / "d"), "--to", "x"])
    assert bad_time.exit_code == 1 and "--to: expected a time such as 2026-01-02T15:04:05Z" in bad_time.output


async def test_a_burst_of_writes_is_shipped_before_the_interval_is_up(tmp_path: Path) -> None:
    storage = await _shipping(
        tmp_path / "data", url=str(tmp_path / "backup"), interval_ms=3_600_000, ship_bytes=4 * SEGMENT
    )
    try:
        await _insert(storage, 0, 20)  # well below ship_bytes: waits for the hour
        await asyncio.sleep(0.3)
        assert storage.gauges()["backup_shipped_lsn"] < 20
        await _insert(storage, 20, 200)  # past ship_bytes
        await _until(lambda: storage.gauges()["backup_shipped_lsn"] >= 200)
    finally:
        await storage.close()


async def test_a_restored_server_does_not_ship_into_the_location_it_was_restored_from(tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    shipping = BackupOptions(url=str(backup), interval_ms=50)
    first = await _shipping(tmp_path / "data", url=shipping.url, interval_ms=shipping.interval_ms)
    try:
        await _insert(first, 0, 30)
        await _until(lambda: first.gauges()["backup_shipped_lsn"] >= 30)
    finally:
        await first.close()
    engine = LocalOptions(tmp_path / "restored", space_reserve=1 << 20, backup=shipping)
    await asyncio.to_thread(restore, str(backup), engine.data_dir, engine=engine)
    shipped_before = sorted(path.name for path in backup.rglob("*"))
    restored = LocalStorage(engine)
    await restored.open()
    try:
        await _insert(restored, 30, 10)
        await _until(lambda: restored.gauges()["backup_upload_errors"] >= 1)
        assert restored.notices() == [
            "shipping the WAL to backup.url fails (ForeignLog; see backup_upload_failed in the log)"
        ]
        with pytest.raises(StateConflict, match="holds the backup of another log"):
            await restored.backup(str(backup))
        assert (await restored.backup(str(tmp_path / "new-location"))).last_lsn >= 40
    finally:
        await restored.close()
    assert sorted(path.name for path in backup.rglob("*")) == shipped_before
