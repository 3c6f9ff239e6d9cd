"""Every record of the key-value store is checked on read; stores written before
checksums are upgraded on open; the log's end is recorded, so a lost segment is named."""

from __future__ import annotations

from pathlib import Path

import lmdb
import pytest

from rivetq.errors import StorageCorrupt
from rivetq.storage.local import LocalOptions, LocalStorage
from rivetq.storage.local import kv as kv_module
from rivetq.storage.local.kv import KVStore
from rivetq.storage.local.kv_format import APPLIED_LSN_KEY, COUNTS_KEY, FORMAT_KEY, WAL_TAIL_KEY, check_value
from rivetq.storage.local.record import LostWAL
from rivetq.storage.local.verify import verify_data_dir
from tests.storage.contract_support import QUEUE, T0, insert, job_id, new_job


async def _closed_data_dir(tmp_path: Path, jobs: int, segment_size: int = 1 << 20) -> None:
    storage = LocalStorage(LocalOptions(data_dir=tmp_path, segment_size=segment_size))
    await storage.open()
    await insert(storage, *(new_job(n) for n in range(1, jobs + 1)))
    await storage.close()  # closing checkpoints: every job is in the key-value store


async def _payloads(storage: LocalStorage, jobs: int) -> list[bytes]:
    return [(await storage.get(job_id(n))).payload for n in range(1, jobs + 1)]


def _strip_checksums(kv_dir: Path) -> None:
    """Rewrite the store the way releases before checksums left it."""
    with lmdb.open(str(kv_dir), map_size=1 << 30) as env, env.begin(write=True) as txn:
        for key in (FORMAT_KEY, COUNTS_KEY, WAL_TAIL_KEY):
            txn.delete(key)
        for key, stored in list(txn.cursor()):
            value = check_value(key, stored)
            assert value is not None
            txn.put(key, value)
        assert len(txn.get(APPLIED_LSN_KEY)) == 8


async def test_a_store_from_before_checksums_opens_and_is_upgraded(tmp_path: Path) -> None:
    await _closed_data_dir(tmp_path, 5)
    _strip_checksums(tmp_path / "kv")
    assert verify_data_dir(tmp_path) == []  # read unchecked, with a note
    storage = LocalStorage(LocalOptions(data_dir=tmp_path))
    await storage.open()
    try:
        assert await _payloads(storage, 5) == [b'{"n": %d}' % n for n in range(1, 6)]
    finally:
        await storage.close()
    with lmdb.open(str(tmp_path / "kv"), readonly=True, lock=False) as env, env.begin() as txn:
        assert txn.get(FORMAT_KEY) == b"2"
    assert verify_data_dir(tmp_path) == []


async def test_an_upgrade_cut_short_by_a_crash_resumes_without_sealing_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checksums go in in transactions of a bounded size; a crash between two leaves a
    store whose next open completes the work, never checksumming a record twice."""
    await _closed_data_dir(tmp_path, 30)
    _strip_checksums(tmp_path / "kv")
    monkeypatch.setattr(kv_module, "_UPGRADE_BATCH", 7)
    batches = 0
    real_seal_batch = KVStore._seal_batch

    def crash_after_three(store: KVStore, after: bytes | None) -> tuple[int, bytes] | None:
        nonlocal batches
        batches += 1
        if batches > 3:
            raise KeyboardInterrupt  # the process dies between two transactions
        return real_seal_batch(store, after)

    monkeypatch.setattr(KVStore, "_seal_batch", crash_after_three)
    with pytest.raises(KeyboardInterrupt):
        KVStore(tmp_path / "kv", map_size=1 << 30)
    with pytest.raises(StorageCorrupt, match="checksums are half added"):
        KVStore(tmp_path / "kv", map_size=1 << 30, readonly=True)
    monkeypatch.setattr(KVStore, "_seal_batch", real_seal_batch)
    assert verify_data_dir(tmp_path) != []  # half done: verify says so, startup finishes it
    storage = LocalStorage(LocalOptions(data_dir=tmp_path))
    await storage.open()
    try:
        assert await _payloads(storage, 30) == [b'{"n": %d}' % n for n in range(1, 31)]
    finally:
        await storage.close()
    assert verify_data_dir(tmp_path) == []


async def test_a_damaged_payload_fails_its_read_naming_the_job(tmp_path: Path) -> None:
    await _closed_data_dir(tmp_path, 3)
    data_file = tmp_path / "kv" / "data.mdb"
    data = bytearray(data_file.read_bytes())
    at = data.find(b'{"n": 2}')
    data[at + 1] ^= 0x20
    data_file.write_bytes(bytes(data))
    (problem,) = verify_data_dir(tmp_path)
    assert f"job {job_id(2)} (payload) fails its checksum" in problem
    storage = LocalStorage(LocalOptions(data_dir=tmp_path))
    await storage.open()  # startup reads no payload
    try:
        with pytest.raises(StorageCorrupt, match=f"job {job_id(2)}"):
            await storage.get(job_id(2))
        assert (await storage.get(job_id(1))).payload == b'{"n": 1}'
    finally:
        await storage.close()


async def test_a_damaged_job_does_not_hold_up_the_reaping_of_other_expired_leases(tmp_path: Path) -> None:
    storage = LocalStorage(LocalOptions(data_dir=tmp_path))
    await storage.open()
    await insert(storage, *(new_job(n) for n in range(1, 4)))
    leased = await storage.lease(QUEUE, max_jobs=3, visibility_ms=1, now_ms=T0, new_lease_id=lambda: "lease")
    assert len(leased.jobs) == 3
    await storage.close()
    data_file = tmp_path / "kv" / "data.mdb"
    data_file.write_bytes(data_file.read_bytes().replace(b'{"n": 2}', b'{"n": 9}'))  # every copy of the page
    storage = LocalStorage(LocalOptions(data_dir=tmp_path))
    await storage.open()
    try:
        expired = await storage.expired_leases(now_ms=T0 + 10, limit=10)
        assert [job.id for job in expired] == [job_id(1), job_id(3)]
    finally:
        await storage.close()


async def test_records_missing_from_a_table_are_found_by_verify_and_named_when_reached(tmp_path: Path) -> None:
    """A damaged branch page can hide records without any read failing: ``verify``'s count
    catches it; startup reads no job (a backlog may not fit in memory), so the engine names
    the missing record when an index leads to it."""
    await _closed_data_dir(tmp_path, 4)
    with lmdb.open(str(tmp_path / "kv"), map_size=1 << 30) as env, env.begin(write=True) as txn:
        txn.delete(b"m" + job_id(3).encode())
    (problem,) = verify_data_dir(tmp_path)
    assert "table b'm' has 3 records, 4 were written" in problem
    storage = LocalStorage(LocalOptions(data_dir=tmp_path))
    await storage.open()
    try:
        with pytest.raises(StorageCorrupt, match=f"job {job_id(3)} has no metadata record"):
            await storage.lease(QUEUE, max_jobs=10, visibility_ms=1000, now_ms=T0, new_lease_id=lambda: "lease")
    finally:
        await storage.close()


async def test_a_lost_segment_can_be_accepted_and_the_log_goes_on(tmp_path: Path) -> None:
    storage = LocalStorage(LocalOptions(data_dir=tmp_path, segment_size=4096, checkpoint_bytes=1 << 30))
    await storage.open()
    for n in range(1, 80):
        await insert(storage, new_job(n))
    storage._core.stop_checkpoints()  # stop like a crash
    assert storage._checkpointer is not None
    await storage._checkpointer
    await storage._core.wal.close()
    storage._core._release()
    segments = sorted((tmp_path / "wal").glob("*.wal"))
    segments[-2].unlink()  # a gap: the last segment's records cannot be replayed either
    with pytest.raises(LostWAL, match=segments[-2].name):
        await LocalStorage(LocalOptions(data_dir=tmp_path, segment_size=4096)).open()
    accepted = LocalStorage(LocalOptions(data_dir=tmp_path, segment_size=4096, accept_wal_loss=True))
    await accepted.open()
    try:
        stats = await accepted.stats(QUEUE, now_ms=T0)
        assert stats is not None and 0 < stats.ready < 79
        await insert(accepted, new_job(100))
    finally:
        await accepted.close()
    assert list((tmp_path / "wal").glob(f"{segments[-1].name}.lost-*"))  # set aside, not deleted
    assert verify_data_dir(tmp_path) == []
