"""Engine behaviour beyond the contract: races decided on the event loop, checkpoints
and segment deletion, recovery after a checkpoint, gauges, fsync off."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rivetq.storage.local import CorruptWAL, LocalOptions, LocalStorage
from rivetq.storage.local.codec import META
from rivetq.storage.local.kv import CorruptStore, KVStore
from rivetq.storage.local.verify import verify_data_dir
from tests.storage.contract_support import QUEUE, T0, insert, job_id, lease, new_job


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[LocalStorage]:
    engine = LocalStorage(LocalOptions(data_dir=tmp_path, segment_size=4096))
    await engine.open()
    yield engine
    await engine.close()


async def reopened(tmp_path: Path, **options: int) -> LocalStorage:
    engine = LocalStorage(LocalOptions(data_dir=tmp_path, segment_size=4096, **options))  # type: ignore[arg-type]
    await engine.open()
    return engine


async def test_concurrent_inserts_with_one_key_create_one_job(storage: LocalStorage) -> None:
    results = await asyncio.gather(*(insert(storage, new_job(n, key="same")) for n in range(1, 51)))
    winners = {result.job_id for (result,) in results}
    assert len(winners) == 1
    assert sum(1 for (result,) in results if not result.duplicate) == 1
    stats = await storage.stats(QUEUE, now_ms=T0)
    assert stats is not None and stats.ready == 1 and stats.counters.enqueued_total == 1


async def test_concurrent_leases_never_share_a_job(storage: LocalStorage) -> None:
    await insert(storage, *(new_job(n) for n in range(1, 41)))
    batches = await asyncio.gather(*(lease(storage, max_jobs=3) for _ in range(20)))
    leased = [job.id for batch in batches for job in batch]
    assert len(leased) == len(set(leased)) == 40


async def test_checkpoint_deletes_segments_and_restart_replays_the_rest(storage: LocalStorage, tmp_path: Path) -> None:
    for n in range(1, 61):
        await insert(storage, new_job(n))
    jobs = await lease(storage, max_jobs=10)
    assert storage.gauges()["wal_segments"] > 3
    await storage.checkpoint()
    assert storage.gauges()["wal_segments"] == 1
    for job in jobs[:5]:
        await storage.ack(job.id, job.lease_id or "", now_ms=T0)
    await insert(storage, new_job(61))
    expected = await storage.list_jobs(QUEUE, state=None, limit=100, cursor=None, now_ms=T0)
    expected_stats = await storage.stats(QUEUE, now_ms=T0)
    await storage.close()
    store = KVStore(tmp_path / "kv", map_size=1 << 30, readonly=True)
    assert store.applied_lsn() > 0  # the records after it are replayed below
    store.close()
    again = await reopened(tmp_path)
    assert await again.list_jobs(QUEUE, state=None, limit=100, cursor=None, now_ms=T0) == expected
    assert await again.stats(QUEUE, now_ms=T0) == expected_stats
    await again.close()


async def test_background_checkpoint_runs_on_the_size_trigger(tmp_path: Path) -> None:
    engine = await reopened(tmp_path, checkpoint_bytes=2048)
    for n in range(1, 80):
        await insert(engine, new_job(n))
    for _ in range(1000):
        if engine.gauges()["wal_segments"] <= 2:
            break
        await asyncio.sleep(0.01)  # the checkpointer is a real background task
    assert engine.gauges()["wal_segments"] <= 2
    await engine.close()


async def test_writers_faster_than_checkpoints_wait_for_them_so_the_overlay_stays_bounded(tmp_path: Path) -> None:
    """A burst of batch enqueues outpaces the checkpoints (each writes LMDB in a thread):
    once the changes not yet frozen reach twice the checkpoint trigger, writes wait for
    the next checkpoint to start, so what memory holds (and a restart replays) stays a
    few checkpoints' worth."""
    checkpoint_bytes = 64 * 1024
    engine = LocalStorage(LocalOptions(data_dir=tmp_path, checkpoint_bytes=checkpoint_bytes, fsync=False))
    await engine.open()
    core = engine._core
    most_unwritten = 0
    numbers = iter(range(1, 1 << 30))

    async def writer() -> None:
        nonlocal most_unwritten
        for _ in range(60):
            await engine.insert(QUEUE, [new_job(next(numbers)) for _ in range(100)], now_ms=T0, dedup_window_ms=0)
            most_unwritten = max(most_unwritten, core._bytes_since_checkpoint)

    try:
        await asyncio.gather(*(writer() for _ in range(4)))
        assert (await engine.stats(QUEUE, now_ms=T0)).ready == 24_000
    finally:
        await engine.close()
    # Twice the trigger, plus at most one record per writer that passed the check before
    # it was reached; without the wait this run passes 700 KiB.
    batch_record = 100 * 200  # a generous size for one record of 100 jobs
    assert most_unwritten <= 2 * checkpoint_bytes + 4 * batch_record, most_unwritten


async def test_gauges_report_segments_and_bytes(storage: LocalStorage) -> None:
    before = storage.gauges()
    await insert(storage, new_job(1))
    after = storage.gauges()
    assert before["wal_segments"] == after["wal_segments"] == 1
    assert after["wal_size_bytes"] > before["wal_size_bytes"]


async def test_fsync_off_still_survives_a_restart(tmp_path: Path) -> None:
    engine = LocalStorage(LocalOptions(data_dir=tmp_path, segment_size=4096, fsync=False))
    await engine.open()
    await insert(engine, new_job(1))
    await engine.close()
    again = await reopened(tmp_path)
    assert (await again.get(job_id(1))).payload == new_job(1).payload
    await again.close()


async def test_close_twice_is_safe(storage: LocalStorage) -> None:
    await storage.close()
    await storage.close()


async def test_every_expired_idempotency_key_goes_after_a_checkpoint_however_many(storage: LocalStorage) -> None:
    """Deleting at most one batch per checkpoint let keys pile up once more arrived per
    checkpoint interval than a batch held."""
    await insert(storage, *(new_job(n, key=f"old-{n}") for n in range(25)), window_ms=1000)
    await insert(storage, new_job(99, key="new"), now_ms=T0 + 5000, window_ms=1000)
    await storage.checkpoint()
    assert await storage._core.forget_expired_keys(batch=10) == 25
    await storage.checkpoint()
    assert await storage._core.forget_expired_keys(batch=10) == 0


async def test_expired_idempotency_keys_are_deleted(storage: LocalStorage, tmp_path: Path) -> None:
    await insert(storage, new_job(1, key="old"), window_ms=1000)
    await insert(storage, new_job(2, key="new"), now_ms=T0 + 5000, window_ms=1000)
    await storage.checkpoint()
    assert await storage._core.forget_expired_keys() == 1
    assert await storage._core.forget_expired_keys() == 0
    await storage.close()
    store = KVStore(tmp_path / "kv", map_size=1 << 30, readonly=True)
    try:
        assert [key for key, _ in store.scan(b"k")] == [b"k" + QUEUE.encode() + b"\x00new"]
    finally:
        store.close()
    again = await reopened(tmp_path)
    (fresh,) = await insert(again, new_job(3, key="old"), now_ms=T0 + 6000, window_ms=10**9)
    (dup,) = await insert(again, new_job(4, key="new"), now_ms=T0 + 6000, window_ms=10**9)
    assert (fresh.duplicate, dup.duplicate, dup.job_id) == (False, True, job_id(2))
    await again.close()


async def test_corrupt_wal_stops_open_with_file_and_offset_and_frees_the_lock(tmp_path: Path) -> None:
    engine = LocalStorage(LocalOptions(data_dir=tmp_path, segment_size=1 << 16, checkpoint_bytes=1 << 30))
    await engine.open()
    for n in range(1, 6):
        await insert(engine, new_job(n))
    engine._core.stop_checkpoints()  # stop without the final checkpoint, so the WAL matters
    assert engine._checkpointer is not None
    await engine._checkpointer
    await engine._core.wal.close()
    engine._core._release()
    (segment,) = (tmp_path / "wal").glob("*.wal")
    data = bytearray(segment.read_bytes())
    data[60] ^= 0xFF  # inside the first of five write groups
    segment.write_bytes(bytes(data))
    for _ in range(2):  # the second attempt is refused for the same reason, not by the lock
        with pytest.raises(CorruptWAL, match=str(segment)):
            await reopened(tmp_path)


async def test_the_data_directory_is_private_to_its_owner(storage: LocalStorage, tmp_path: Path) -> None:
    """Jobs' payloads live here: no other user of the machine may list or read them."""
    for directory in (tmp_path, tmp_path / "wal", tmp_path / "kv"):
        assert directory.stat().st_mode & 0o777 == 0o700, directory


async def _checkpointed(tmp_path: Path, jobs: int) -> Path:
    """A closed data dir whose ``jobs`` jobs are all in the key-value store; its data file."""
    storage = LocalStorage(LocalOptions(data_dir=tmp_path, segment_size=1 << 20))
    await storage.open()
    await insert(storage, *(new_job(n) for n in range(jobs)))
    await storage.close()  # closing checkpoints
    return tmp_path / "kv" / "data.mdb"


async def test_a_truncated_key_value_store_stops_startup_naming_its_file(tmp_path: Path) -> None:
    """LMDB maps the file: reading past a truncated end killed rivetqd with SIGBUS, silently."""
    data_file = await _checkpointed(tmp_path, 2000)
    with data_file.open("r+b") as handle:
        handle.truncate(data_file.stat().st_size // 2)
    with pytest.raises(CorruptStore, match=f"{data_file} is truncated"):
        await reopened(tmp_path)
    (problem,) = verify_data_dir(tmp_path)
    assert f"{data_file} is truncated" in problem


async def test_a_record_that_does_not_read_back_is_named_where_it_is_read(tmp_path: Path) -> None:
    """Startup reads no job (a backlog may not fit in memory): the damaged record stops
    the reads and leases that reach it, naming the store, and ``verify`` finds it."""
    data_file = await _checkpointed(tmp_path, 3)
    store = KVStore(data_file.parent, map_size=1 << 30)
    store.write({META + job_id(0).encode(): b"\xffnot a job"}, store.applied_lsn())
    store.close()
    engine = await reopened(tmp_path)
    try:
        with pytest.raises(CorruptStore, match=f"{data_file.parent}.*a record does not read back: job {job_id(0)}"):
            await engine.get(job_id(0))
        with pytest.raises(CorruptStore, match="a record does not read back"):
            await engine.lease(QUEUE, max_jobs=1, visibility_ms=1000, now_ms=T0, new_lease_id=lambda: "lease")
        assert (await engine.get(job_id(1))).id == job_id(1)
    finally:
        await engine.close()
    assert any(job_id(0) in problem for problem in verify_data_dir(tmp_path))


@pytest.mark.parametrize("checkpoint_after", [False, True])
async def test_a_queue_deleted_after_a_checkpoint_stays_deleted(tmp_path: Path, checkpoint_after: bool) -> None:
    """Its jobs and keys are in LMDB by then: the deletion must find them there, and replay
    (or the next checkpoint) must remove them again."""
    engine = await reopened(tmp_path)
    await insert(engine, new_job(1, key="a"), new_job(2, key="b"), new_job(3))
    await engine.checkpoint()
    await insert(engine, new_job(4, key="c"))
    assert await engine.delete_queue(QUEUE, force=False, now_ms=T0) == 4
    if checkpoint_after:
        await engine.checkpoint()
    await engine.close()
    again = await reopened(tmp_path)
    assert await again.list_queues(now_ms=T0) == []
    assert [r.duplicate for r in await insert(again, new_job(5, key="a"), new_job(6, key="c"))] == [False, False]
    assert await again.stats(QUEUE, now_ms=T0) is not None
    await again.close()
