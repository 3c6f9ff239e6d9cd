"""Fault injection through the engine's file layer: ENOSPC and EIO on write, on
fsync and on segment allocation. A failed write changes nothing and the engine
recovers when the disk does; a failed fsync stops writes until restart."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rivetq.errors import JobNotFound, StorageUnavailable
from rivetq.storage.local import LocalOptions, LocalStorage
from rivetq.storage.local.verify import verify_data_dir
from tests.storage.contract_support import QUEUE, T0, insert, job_id, lease, new_job
from tests.storage.wal_support import FaultyIO


@pytest.fixture
def io() -> FaultyIO:
    return FaultyIO()


@pytest.fixture
async def storage(tmp_path: Path, io: FaultyIO) -> AsyncIterator[LocalStorage]:
    engine = LocalStorage(LocalOptions(data_dir=tmp_path, segment_size=4096, io=io))
    await engine.open()
    yield engine
    await engine.close()


async def restart(storage: LocalStorage, tmp_path: Path) -> LocalStorage:
    await storage.close()
    assert verify_data_dir(tmp_path) == []
    reopened = LocalStorage(LocalOptions(data_dir=tmp_path, segment_size=4096))
    await reopened.open()
    return reopened


async def snapshot(storage: LocalStorage) -> object:
    return (
        await storage.list_queues(now_ms=T0),
        await storage.list_jobs(QUEUE, state=None, limit=100, cursor=None, now_ms=T0),
    )


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
@pytest.mark.parametrize("partial", [0, 20])
async def test_failed_write_changes_nothing_and_recovers(
    storage: LocalStorage, io: FaultyIO, tmp_path: Path, code: int, partial: int
) -> None:
    await insert(storage, new_job(1))
    (leased,) = await lease(storage, max_jobs=1)
    before = await snapshot(storage)
    io.fail_write, io.partial = code, partial
    if code == errno.ENOSPC:
        io.free = 0
    with pytest.raises(StorageUnavailable):
        await insert(storage, new_job(2), new_job(3))
    with pytest.raises(StorageUnavailable):
        await storage.ack(leased.id, leased.lease_id or "", now_ms=T0)
    assert await snapshot(storage) == before
    assert "WAL write failed" in (storage.unavailable_reason() or "")
    io.heal()
    await insert(storage, new_job(4))
    assert storage.unavailable_reason() is None
    await storage.ack(leased.id, leased.lease_id or "", now_ms=T0)
    reopened = await restart(storage, tmp_path)
    with pytest.raises(JobNotFound):
        await reopened.get(job_id(2))
    with pytest.raises(JobNotFound):
        await reopened.get(job_id(1))
    assert (await reopened.get(job_id(4))).id == job_id(4)
    await reopened.close()


async def test_concurrent_writes_of_a_failed_group_are_all_undone(storage: LocalStorage, io: FaultyIO) -> None:
    await insert(storage, new_job(1, key="k"))
    before = await snapshot(storage)
    io.fail_write = errno.ENOSPC
    calls = [
        insert(storage, new_job(2, key="k2")),
        lease(storage, max_jobs=5),
        insert(storage, new_job(3, key="k2")),
        storage.purge(QUEUE, now_ms=T0),
    ]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(result, StorageUnavailable) for result in results)
    assert await snapshot(storage) == before
    io.heal()
    (result,) = await insert(storage, new_job(5, key="k2"))
    assert result.duplicate is False


@pytest.mark.parametrize("code", [errno.EIO, errno.ENOSPC])
async def test_failed_fsync_refuses_writes_until_restart(
    storage: LocalStorage, io: FaultyIO, tmp_path: Path, code: int
) -> None:
    await insert(storage, new_job(1))
    before = await snapshot(storage)
    io.fail_sync = code
    with pytest.raises(StorageUnavailable):
        await insert(storage, new_job(2))
    io.heal()
    with pytest.raises(StorageUnavailable, match="fsync"):
        await insert(storage, new_job(3))
    assert "restart" in (storage.unavailable_reason() or "")
    assert await snapshot(storage) == before  # reads still served
    reopened = await restart(storage, tmp_path)
    assert reopened.unavailable_reason() is None
    await insert(reopened, new_job(4))
    assert (await reopened.get(job_id(1))).id == job_id(1)
    await reopened.close()


async def test_failed_segment_allocation_fails_the_write_and_recovers(
    storage: LocalStorage, io: FaultyIO, tmp_path: Path
) -> None:
    io.fail_allocate = errno.ENOSPC
    inserted = 0
    with pytest.raises(StorageUnavailable):
        for n in range(1, 100):  # 4 KiB segments: a rotation comes soon
            await insert(storage, new_job(n))
            inserted = n
    io.heal()
    await insert(storage, new_job(100))
    reopened = await restart(storage, tmp_path)
    stats = await reopened.stats(QUEUE, now_ms=T0)
    assert stats is not None and stats.ready == inserted + 1
    await reopened.close()


async def test_a_full_disk_reads_ready_again_once_space_returns_without_a_write(
    storage: LocalStorage, io: FaultyIO
) -> None:
    io.fail_write, io.free = errno.ENOSPC, 0
    with pytest.raises(StorageUnavailable):
        await insert(storage, new_job(1))
    assert "ENOSPC" in (storage.unavailable_reason() or "")
    io.heal()  # space came back (a file deleted, the volume grown): nobody has written yet
    assert storage.unavailable_reason() is None


async def test_a_full_disk_refuses_enqueues_while_acks_drain_it(storage: LocalStorage, io: FaultyIO) -> None:
    await insert(storage, new_job(1))
    (leased,) = await lease(storage, max_jobs=1)
    io.fail_write, io.free = errno.ENOSPC, 0
    with pytest.raises(StorageUnavailable):
        await insert(storage, new_job(2))
    io.fail_write = None  # a small record still fits in the current segment, the next segment would not
    with pytest.raises(StorageUnavailable, match="disk space low"):
        await insert(storage, new_job(3))
    await storage.ack(leased.id, leased.lease_id or "", now_ms=T0)  # draining goes on
    assert "ENOSPC" in (storage.unavailable_reason() or "")
    assert storage.gauges()["disk_space_alarm"] == 1
    io.free = None
    assert storage.unavailable_reason() is None
    assert storage.gauges()["disk_space_alarm"] == 0
    await insert(storage, new_job(4))


async def test_a_startup_that_cannot_preallocate_a_segment_names_file_size_and_free_space(tmp_path: Path) -> None:
    io = FaultyIO()
    io.fail_allocate, io.free = errno.ENOSPC, 12345
    storage = LocalStorage(LocalOptions(data_dir=tmp_path, segment_size=1 << 20, io=io))
    segment = tmp_path / "wal" / f"{1:020d}.wal"
    with pytest.raises(
        OSError, match=f"cannot preallocate 1048576 bytes for WAL segment {segment} \\(12345 bytes free\\)"
    ):
        await storage.open()
