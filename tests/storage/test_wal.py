"""WAL unit tests: framing, group commit, rotation, torn tails, mid-log damage,
deleting segments below a checkpoint."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from pathlib import Path

import pytest

from rivetq.errors import StorageUnavailable
from rivetq.storage.local.fileio import DataSyncer, FileIO
from rivetq.storage.local.record import FRAME_HEADER, CorruptWAL, Frame, encode_frame, read_frame
from rivetq.storage.local.recovery import recover_log
from rivetq.storage.local.segment import HEADER_SIZE, create_segment, list_segments
from tests.storage.wal_support import FaultyIO, flip_byte, open_wal, segments, write_records

BODY = b"0123456789"
GROUP = 25 + FRAME_HEADER + 1 + len(BODY)  # a BATCH frame + one record of BODY


def bodies(n: int) -> list[bytes]:
    return [b"%010d" % i for i in range(n)]


def record_offset(k: int) -> int:
    """File offset of the k-th record when every record is its own write group."""
    return HEADER_SIZE + k * GROUP + 25


async def reopen(wal_dir: Path, *, segment_size: int = 1 << 16, after_lsn: int = 0) -> list[tuple[int, bytes]]:
    replayed: list[tuple[int, bytes]] = []
    wal = open_wal(wal_dir, replayed=replayed, segment_size=segment_size, after_lsn=after_lsn)
    await wal.close()
    return replayed


def test_frame_round_trip_and_damage() -> None:
    frame = encode_frame(1, b"hello")
    assert read_frame(frame + bytes(16), 0) == Frame(1, b"hello", len(frame))
    assert read_frame(bytes(32), 0) is None
    damaged = bytearray(frame)
    damaged[-1] ^= 1
    assert read_frame(bytes(damaged), 0) == "checksum mismatch"
    assert read_frame(frame[:-2], 0) == "frame runs past the end of the file"
    length_damaged = bytearray(frame)
    length_damaged[0] ^= 2
    assert isinstance(read_frame(bytes(length_damaged) + bytes(8), 0), str)


async def test_wal_replays_records_in_order_with_lsns(tmp_path: Path) -> None:
    wal = open_wal(tmp_path)
    lsns = await write_records(wal, bodies(5))
    await wal.close()
    assert lsns == [1, 2, 3, 4, 5]
    assert await reopen(tmp_path) == list(zip(lsns, bodies(5), strict=True))


async def test_wal_group_commit_shares_one_fsync(tmp_path: Path) -> None:
    syncs: list[float] = []
    wal = open_wal(tmp_path, on_fsync=syncs)
    lsns = [wal.submit(1, body) for body in bodies(50)]
    await asyncio.gather(*(wal.wait_durable(lsn) for lsn in lsns))
    await wal.close()
    assert len(syncs) == 1
    assert [body for _, body in await reopen(tmp_path)] == bodies(50)


class _GatedIO(FaultyIO):
    """Once ``hold`` is set, holds the next flush until ``go`` is set, so later records
    queue behind it."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = False
        self.entered = asyncio.Event()
        self.go = asyncio.Event()

    async def sync_data(self, syncer: DataSyncer, fd: int) -> None:
        if self.hold:
            self.hold = False
            self.entered.set()
            await self.go.wait()
        await super().sync_data(syncer, fd)


async def test_wal_never_writes_a_group_queued_behind_a_failed_one(tmp_path: Path) -> None:
    io = _GatedIO()
    wal = open_wal(tmp_path, io=io)
    (first,) = await write_records(wal, [b"durable"])
    io.hold = True
    failing = wal.submit(1, b"fails")
    await asyncio.wait_for(io.entered.wait(), 10)
    writes_before = io.writes
    queued = wal.submit(1, b"decided on top of the failed one")  # pending while the flush runs
    io.fail_sync = errno.EIO
    io.go.set()
    for lsn in (failing, queued):
        with pytest.raises(StorageUnavailable, match="WAL fsync failed"):
            await wal.wait_durable(lsn)
    assert io.writes == writes_before  # the queued group never reached the file
    with pytest.raises(StorageUnavailable, match="until restart"):
        wal.submit(1, b"refused")
    await wal.close()
    replayed = await reopen(tmp_path)
    assert replayed[0] == (first, b"durable")
    assert b"decided on top of the failed one" not in [body for _, body in replayed]


async def test_wal_rotates_segments_named_by_first_lsn(tmp_path: Path) -> None:
    wal = open_wal(tmp_path, segment_size=HEADER_SIZE + 3 * GROUP)
    await write_records(wal, bodies(10))
    assert wal.gauges()["wal_segments"] == 4
    await wal.close()
    assert [path.name for path in segments(tmp_path)] == [f"{lsn:020d}.wal" for lsn in (1, 4, 7, 10)]
    assert [body for _, body in await reopen(tmp_path, segment_size=HEADER_SIZE + 3 * GROUP)] == bodies(10)


async def test_wal_torn_tail_is_cut_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    wal = open_wal(tmp_path)
    await write_records(wal, bodies(3))
    await wal.close()
    (path,) = segments(tmp_path)
    data = bytearray(path.read_bytes())
    torn_group = bytes(data[HEADER_SIZE : HEADER_SIZE + GROUP - 4])  # a copy of group 1, cut short
    data[HEADER_SIZE + 3 * GROUP : HEADER_SIZE + 4 * GROUP - 4] = torn_group
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        replayed = await reopen(tmp_path)
    assert [body for _, body in replayed] == bodies(3)
    assert "torn tail" in caplog.text and str(path) in caplog.text
    wal = open_wal(tmp_path)
    await write_records(wal, [b"after-tear"])
    await wal.close()
    caplog.clear()
    assert [body for _, body in await reopen(tmp_path)] == [*bodies(3), b"after-tear"]
    assert "torn" not in caplog.text


async def test_wal_file_cut_mid_record_is_a_torn_tail(tmp_path: Path) -> None:
    wal = open_wal(tmp_path)
    await write_records(wal, bodies(4), one_group_each=False)
    await write_records(wal, [b"last-group"])
    await wal.close()
    (path,) = segments(tmp_path)
    end = HEADER_SIZE + 25 + 4 * (FRAME_HEADER + 1 + len(BODY)) + 25 + FRAME_HEADER + 1 + len(b"last-group")
    path.write_bytes(path.read_bytes()[: end - 3])
    assert [body for _, body in await reopen(tmp_path)] == bodies(4)


async def test_wal_flipped_byte_mid_log_names_file_and_offset(tmp_path: Path) -> None:
    wal = open_wal(tmp_path)
    await write_records(wal, bodies(6))
    await wal.close()
    (path,) = segments(tmp_path)
    flip_byte(path, record_offset(2) + FRAME_HEADER + 3)
    with pytest.raises(CorruptWAL) as caught:
        await reopen(tmp_path)
    assert caught.value.path == str(path)
    assert caught.value.offset == record_offset(2)
    assert str(path) in str(caught.value) and str(record_offset(2)) in str(caught.value)


async def test_wal_damage_in_a_closed_segment_is_corruption(tmp_path: Path) -> None:
    size = HEADER_SIZE + 3 * GROUP
    wal = open_wal(tmp_path, segment_size=size)
    await write_records(wal, bodies(4))
    await wal.close()
    first = segments(tmp_path)[0]
    flip_byte(first, record_offset(2) + FRAME_HEADER + 1)  # the last group of a closed segment
    with pytest.raises(CorruptWAL) as caught:
        await reopen(tmp_path, segment_size=size)
    assert caught.value.path == str(first)


async def test_wal_zeroed_group_start_followed_by_groups_is_corruption(tmp_path: Path) -> None:
    wal = open_wal(tmp_path)
    await write_records(wal, bodies(4))
    await wal.close()
    (path,) = segments(tmp_path)
    data = bytearray(path.read_bytes())
    data[HEADER_SIZE + GROUP : HEADER_SIZE + GROUP + 8] = bytes(8)  # looks like the end of the log
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptWAL, match="resumes"):
        await reopen(tmp_path)


async def test_wal_delete_below_keeps_the_segments_replay_needs(tmp_path: Path) -> None:
    size = HEADER_SIZE + 3 * GROUP
    wal = open_wal(tmp_path, segment_size=size)
    await write_records(wal, bodies(10))
    assert await wal.delete_below(5) == 1  # segment 1..3 only; 4..6 still holds LSN 6
    assert await wal.delete_below(9) == 2
    assert await wal.delete_below(10) == 0  # never the segment being written
    await wal.close()
    assert [path.name for path in segments(tmp_path)] == [f"{10:020d}.wal"]
    assert await reopen(tmp_path, segment_size=size, after_lsn=9) == [(10, bodies(10)[9])]


async def test_wal_missing_segment_is_corruption(tmp_path: Path) -> None:
    size = HEADER_SIZE + 3 * GROUP
    wal = open_wal(tmp_path, segment_size=size)
    await write_records(wal, bodies(10))
    await wal.close()
    segments(tmp_path)[1].unlink()
    with pytest.raises(CorruptWAL, match=rf"{4:020d}\.wal .*segment missing: records 4\.\.6 are gone"):
        await reopen(tmp_path, segment_size=size)
    segments(tmp_path)[0].unlink()
    with pytest.raises(CorruptWAL, match=r"records 1\.\.6 are missing"):
        recover_log(FileIO(), tmp_path, after_lsn=0, segment_size=size, replay=lambda lsn, frame: None)


async def test_wal_empty_segment_left_by_a_failed_rotation_is_removed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    size = HEADER_SIZE + 4 * GROUP
    wal = open_wal(tmp_path, segment_size=size)
    await write_records(wal, bodies(3))
    await wal.close()
    # A rotation for LSN 3 whose directory fsync failed, its segment unlinked but the
    # unlink lost in a crash: records 3.. went on into the first segment.
    os.close(create_segment(FileIO(), tmp_path, 3, size))
    with caplog.at_level(logging.WARNING):
        assert [body for _, body in await reopen(tmp_path, segment_size=size)] == bodies(3)
    assert "interrupted rotation" in caplog.text
    assert [path.name for path in segments(tmp_path)] == [f"{1:020d}.wal"]


async def test_wal_a_new_segment_never_replaces_one_that_exists(tmp_path: Path) -> None:
    """A log that merely looked empty (its directory could not be listed) had its first
    segment replaced by a new one, then deleted when the startup failed."""
    wal = open_wal(tmp_path)
    await write_records(wal, bodies(3))
    await wal.close()
    [first] = segments(tmp_path)
    before = first.read_bytes()
    with pytest.raises(FileExistsError):
        create_segment(FileIO(), tmp_path, 1, HEADER_SIZE + GROUP)
    assert first.read_bytes() == before
    assert [body for _, body in await reopen(tmp_path)] == bodies(3)


def test_wal_segments_of_a_path_that_is_no_directory_raise(tmp_path: Path) -> None:
    """Path.glob said "no segments" for whatever it could not list (a file, no permission)."""
    not_a_dir = tmp_path / "wal"
    not_a_dir.write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        list_segments(not_a_dir)


async def test_wal_rotation_failing_after_rename_leaves_no_segment(tmp_path: Path) -> None:
    size = HEADER_SIZE + 2 * GROUP
    io = FaultyIO()
    wal = open_wal(tmp_path, segment_size=size, io=io)
    await write_records(wal, bodies(2))
    io.fail_dir_sync = errno.EIO
    with pytest.raises(StorageUnavailable):
        await write_records(wal, [b"needs-a-new-segment"])
    assert len(segments(tmp_path)) == 1
    io.heal()
    await write_records(wal, [b"after"])
    await wal.close()
    assert [body for _, body in await reopen(tmp_path, segment_size=size)] == [*bodies(2), b"after"]


class _ThreadPoolSyncIO(FileIO):
    """The syncer the WAL falls back to where the kernel refuses AIO."""

    def data_syncer(self) -> DataSyncer:
        from caio import thread_aio_asyncio

        return thread_aio_asyncio.AsyncioContext(max_requests=4)  # type: ignore[no-untyped-call]


async def test_wal_group_commit_works_through_the_thread_pool_fallback(tmp_path: Path) -> None:
    syncs: list[float] = []
    wal = open_wal(tmp_path, io=_ThreadPoolSyncIO(), on_fsync=syncs)
    first = await write_records(wal, bodies(3))
    lsns = [wal.submit(1, body) for body in bodies(20)]
    await asyncio.gather(*(wal.wait_durable(lsn) for lsn in lsns))
    await wal.close()
    assert len(syncs) == 4  # three single writes, then one group of twenty
    assert [lsn for lsn, _ in await reopen(tmp_path)] == [*first, *lsns]
