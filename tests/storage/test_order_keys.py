"""The embedded engine's indexes live in LMDB's sorted keys: taking jobs or leases from
the head of a range reads each checkpointed key once (not once per lease, however many
tombstones pile up in front of it), the read-ahead windows stay as small as configured,
and jobs due at enqueue never need counting as delayed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rivetq.models import Schedule
from rivetq.storage.local import LocalOptions, LocalStorage
from rivetq.storage.local.kv import KVStore
from rivetq.storage.local.order import ORDER_TAGS, delayed_prefix
from tests.storage.contract_support import QUEUE, T0, insert, job_id, lease, new_job

WINDOW = 4
JOBS = 200


class KeyReads:
    """Counts the keys the engine reads from LMDB's ordered tables (the real store answers)."""

    def __init__(self, store: KVStore) -> None:
        self.count = 0
        self._keys = store.keys

        def counted(prefix: bytes, start: bytes, limit: int) -> list[bytes]:
            found = self._keys(prefix, start, limit)
            self.count += len(found)
            return found

        store.keys = counted  # type: ignore[method-assign]


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[LocalStorage]:
    storage = LocalStorage(LocalOptions(data_dir=tmp_path, fsync=False, order_window=WINDOW))
    await storage.open()
    try:
        yield storage
    finally:
        await storage.close()


def _reads(engine: LocalStorage) -> KeyReads:
    return KeyReads(engine._core.layers.store)


def _largest_window(engine: LocalStorage) -> int:
    windows = engine._core.index._keys._windows
    return max((len(window.keys) for window in windows.values()), default=0)


async def test_leasing_a_checkpointed_backlog_reads_each_key_once_in_service_order(engine: LocalStorage) -> None:
    await insert(engine, *(new_job(n, priority=n % 3) for n in range(JOBS)))
    await engine.checkpoint()  # the whole backlog is in LMDB, none of it in the overlay
    reads = _reads(engine)
    taken = []
    for _ in range(JOBS):
        (job,) = await lease(engine, max_jobs=1)
        await engine.ack(job.id, job.lease_id or "", now_ms=T0)
        taken.append(job.id)
        assert _largest_window(engine) <= WINDOW
    expected = [job_id(n) for p in (2, 1, 0) for n in range(JOBS) if n % 3 == p]
    assert taken == expected
    # One pass over the keys, plus a last empty read per priority: a rescan from the head
    # per lease would read ~JOBS**2 / (2 * WINDOW) keys.
    assert reads.count <= JOBS + 10 * WINDOW
    assert await lease(engine) == []


async def test_new_jobs_ahead_of_the_checkpointed_ones_are_served_first(engine: LocalStorage) -> None:
    await insert(engine, *(new_job(n, priority=1, eta_ms=T0 + 10) for n in range(10)))
    await engine.checkpoint()
    (first,) = await lease(engine, max_jobs=1, now_ms=T0 + 10)
    await insert(engine, new_job(100, priority=1, eta_ms=T0), new_job(101, priority=9, eta_ms=T0 + 10))
    jobs = await lease(engine, max_jobs=3, now_ms=T0 + 10)
    assert first.id == job_id(0)
    assert [job.id for job in jobs] == [job_id(101), job_id(100), job_id(1)]


async def test_reaping_after_mass_acks_skips_each_acked_lease_once(engine: LocalStorage) -> None:
    await insert(engine, *(new_job(n) for n in range(JOBS)))
    leased = await lease(engine, max_jobs=JOBS, visibility_ms=1000)
    await engine.checkpoint()  # the leases are in LMDB
    for job in leased[:-1]:
        await engine.ack(job.id, job.lease_id or "", now_ms=T0)
    reads = _reads(engine)
    for _ in range(3):
        expired = await engine.expired_leases(now_ms=T0 + 2000, limit=10)
        assert [job.id for job in expired] == [leased[-1].id]
    assert reads.count <= JOBS + WINDOW
    assert _largest_window(engine) <= WINDOW


async def test_jobs_due_at_enqueue_are_never_counted_as_delayed(engine: LocalStorage) -> None:
    """Only a job whose eta was after its creation gets a delayed-order key, so the
    delayed count never walks past the (usually many) jobs that were due at once."""
    await insert(engine, *(new_job(n) for n in range(50)), new_job(50, eta_ms=T0 + 60_000))
    await engine.checkpoint()
    prefix = delayed_prefix(QUEUE)
    (delayed_key,) = engine._core.layers.store.keys(prefix, prefix, 100)
    assert delayed_key.endswith(job_id(50).encode())
    stats = await engine.stats(QUEUE, now_ms=T0)
    assert stats is not None and (stats.ready, stats.delayed) == (50, 1)
    stats = await engine.stats(QUEUE, now_ms=T0 + 60_000)
    assert stats is not None and (stats.ready, stats.delayed) == (51, 0)


async def test_memory_holds_no_order_key_once_checkpointed(engine: LocalStorage) -> None:
    await insert(engine, *(new_job(n) for n in range(JOBS)))
    await lease(engine, max_jobs=10)
    assert len(engine._core.layers.ordered) > JOBS
    await engine.checkpoint()
    assert len(engine._core.layers.ordered) == 0
    assert engine._core.index._keys._windows == {}


async def test_jobs_done_between_two_checkpoints_leave_no_order_key_to_write(engine: LocalStorage) -> None:
    """Their order keys came and went in the overlay: the checkpoint writes no deletion of
    them (it wrote ~3x as many records per job when it did)."""
    await insert(engine, *(new_job(n) for n in range(JOBS)))
    for job in await lease(engine, max_jobs=JOBS):
        await engine.ack(job.id, job.lease_id or "", now_ms=T0)
    written = [key for key in engine._core.layers.active if key[:1] in ORDER_TAGS]
    assert written == []
    await insert(engine, new_job(JOBS))
    await engine.checkpoint()
    (job,) = await lease(engine)  # from LMDB now
    assert job.id == job_id(JOBS)


async def test_schedules_list_right_across_overlays_and_checkpoints(engine: LocalStorage) -> None:
    """Schedule keys in the overlays are tracked apart from the job keys beside them (the
    scheduler lists them every second): the list still shows what an overlay replaced,
    added or deleted over LMDB's values, before and after each checkpoint."""

    def schedule(name: str, queue: str = QUEUE) -> Schedule:
        return Schedule(name=name, queue=queue, payload=b"1", interval_ms=1000, next_run_at_ms=T0)

    await engine.put_schedule(schedule("kept"))
    await engine.put_schedule(schedule("replaced"))
    await engine.put_schedule(schedule("deleted"))
    await engine.checkpoint()  # all three in LMDB
    await engine.put_schedule(schedule("replaced", queue="other"))
    await engine.delete_schedule("deleted")
    await engine.put_schedule(schedule("new"))
    await insert(engine, *(new_job(n) for n in range(50)))  # job keys in the same overlay
    expected = [schedule("kept"), schedule("new"), schedule("replaced", queue="other")]
    assert await engine.list_schedules() == expected
    await engine.checkpoint()
    await engine.delete_schedule("new")
    assert await engine.list_schedules() == [expected[0], expected[2]]
    await engine.checkpoint()
    assert await engine.list_schedules() == [expected[0], expected[2]]
