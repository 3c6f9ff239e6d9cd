"""Long-poll leases: woken by enqueue, nack, requeue, resume, a due eta, a refilled
bucket, another process; served oldest first; released by stop()."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from msgspec.structs import replace

from rivetq.clock import FakeClock
from rivetq.manager import QueueManager
from rivetq.models import Job, LeaseResult, NewJob, RateLimit, RetryPolicy
from rivetq.storage.base import WakeupCallback
from rivetq.storage.memory import MemoryStorage
from tests.manager.support import QUEUE, job, until_long_polls

LONG_MS = 20_000
DONE_WITHIN_S = 10  # a hang guard only: no test measures time


def _long_poll(manager: QueueManager, *, max_jobs: int = 1, queue: str = QUEUE) -> asyncio.Task[list[Job]]:
    return asyncio.create_task(manager.lease(queue, max_jobs=max_jobs, wait_ms=LONG_MS))


async def _result(task: asyncio.Task[list[Job]]) -> list[Job]:
    return await asyncio.wait_for(task, DONE_WITHIN_S)


async def test_long_poll_returns_at_once_when_a_job_is_ready(manager: QueueManager) -> None:
    await manager.enqueue(QUEUE, job())
    assert len(await _result(_long_poll(manager))) == 1


async def test_long_poll_is_woken_by_enqueue(manager: QueueManager) -> None:
    task = _long_poll(manager)
    await until_long_polls(manager, 1)
    result = await manager.enqueue(QUEUE, job())
    assert [j.id for j in await _result(task)] == [result.job_id]
    assert manager.long_polls(QUEUE) == 0


async def test_long_poll_is_woken_when_a_delayed_job_becomes_due(manager: QueueManager, clock: FakeClock) -> None:
    task = _long_poll(manager)
    await until_long_polls(manager, 1)
    result = await manager.enqueue(QUEUE, job(delay_ms=30))
    clock.advance(30)
    assert [j.id for j in await _result(task)] == [result.job_id]


async def test_long_poll_started_after_a_delayed_enqueue_wakes_at_its_eta(
    manager: QueueManager, clock: FakeClock
) -> None:
    result = await manager.enqueue(QUEUE, job(delay_ms=30))
    task = _long_poll(manager)
    await until_long_polls(manager, 1)
    clock.advance(30)
    assert [j.id for j in await _result(task)] == [result.job_id]


async def test_long_poll_ends_empty_after_wait_ms(manager: QueueManager) -> None:
    await manager.enqueue(QUEUE, job(delay_ms=60_000))
    assert await manager.lease(QUEUE, wait_ms=30) == []
    assert manager.long_polls(QUEUE) == 0


async def test_long_poll_is_woken_by_a_nack_to_ready(manager: QueueManager) -> None:
    await manager.enqueue(QUEUE, job())
    [leased] = await manager.lease(QUEUE)
    task = _long_poll(manager)
    await until_long_polls(manager, 1)
    await manager.nack(leased.id, leased.lease_id or "", delay_ms=0)
    assert [j.id for j in await _result(task)] == [leased.id]


async def test_long_poll_is_woken_by_resume_and_requeue(manager: QueueManager) -> None:
    await manager.enqueue(QUEUE, job(max_retries=0))
    [leased] = await manager.lease(QUEUE)
    await manager.nack(leased.id, leased.lease_id or "")
    await manager.pause(QUEUE)
    task = _long_poll(manager)
    await until_long_polls(manager, 1)
    assert await manager.requeue_dlq(QUEUE, None) == 1
    await until_long_polls(manager, 1)
    await manager.resume(QUEUE)
    assert [j.id for j in await _result(task)] == [leased.id]


async def test_long_poll_is_woken_when_an_expired_lease_is_reaped(manager: QueueManager, clock: FakeClock) -> None:
    await manager.set_retry_policy(QUEUE, RetryPolicy(base_backoff_ms=0))
    await manager.enqueue(QUEUE, job())
    [leased] = await manager.lease(QUEUE, visibility_ms=1000)
    task = _long_poll(manager)
    await until_long_polls(manager, 1)
    clock.advance(1000)
    await manager.reap_expired_leases()
    [again] = await _result(task)
    assert (again.id, again.tries) == (leased.id, 1)


async def test_long_poll_is_woken_when_the_bucket_refills(manager: QueueManager, clock: FakeClock) -> None:
    await manager.set_rate_limit(QUEUE, RateLimit(capacity=1, refill_rate=40))
    await manager.enqueue_batch(QUEUE, [job(), job()])
    assert len(await manager.lease(QUEUE)) == 1
    task = _long_poll(manager)
    await until_long_polls(manager, 1)
    clock.advance(25)
    assert len(await _result(task)) == 1


async def test_long_poll_on_a_bucket_stored_with_a_tiny_refill_rate_times_out_empty(
    manager: QueueManager, storage: MemoryStorage, clock: FakeClock
) -> None:
    """A rate stored before refill_rate had a lower bound: its refill time is infinite."""
    tiny = RateLimit(capacity=1, refill_rate=1e-306)
    await storage.update_queue_config(QUEUE, lambda config: replace(config, rate_limit=tiny), now_ms=clock.now_ms())
    await manager.enqueue_batch(QUEUE, [job(), job()])
    assert len(await manager.lease(QUEUE)) == 1
    assert await manager.lease(QUEUE, wait_ms=20) == []


class _ClockPassesTheEtaDuringTheFirstLease(MemoryStorage):
    """The clock passes a delayed job's eta while an empty lease runs: a slow lease, or a
    timer that fired a little before the eta it was armed for."""

    def __init__(self, clock: FakeClock, by_ms: int) -> None:
        super().__init__()
        self._clock, self._by_ms, self._passed = clock, by_ms, False

    async def lease(
        self, queue: str, *, max_jobs: int, visibility_ms: int, now_ms: int, new_lease_id: Callable[[], str]
    ) -> LeaseResult:
        result = await super().lease(
            queue, max_jobs=max_jobs, visibility_ms=visibility_ms, now_ms=now_ms, new_lease_id=new_lease_id
        )
        if not self._passed:
            self._passed = True
            self._clock.advance(self._by_ms)
        return result


async def test_long_poll_gets_a_job_that_became_due_while_its_empty_lease_ran(clock: FakeClock) -> None:
    storage = _ClockPassesTheEtaDuringTheFirstLease(clock, by_ms=30)
    manager = QueueManager(storage, clock=clock)
    await manager.start()
    eta_ms = clock.now_ms() + 30
    delayed = NewJob(id="0190a000-0000-7000-8000-000000000002", payload=b"1", priority=5, eta_ms=eta_ms, max_retries=3)
    await storage.insert(QUEUE, [delayed], now_ms=clock.now_ms(), dedup_window_ms=1000)  # no enqueue timer armed
    assert [j.id for j in await _result(_long_poll(manager))] == [delayed.id]
    await manager.stop()


class _SharedStorage(MemoryStorage):
    """A memory store standing in for a database another node also writes to."""

    wakeup: WakeupCallback | None = None

    def set_wakeup(self, callback: WakeupCallback) -> None:
        self.wakeup = callback


async def test_long_poll_is_woken_by_the_storage_wakeup(clock: FakeClock) -> None:
    storage = _SharedStorage()
    manager = QueueManager(storage, clock=clock)
    await manager.start()
    task = _long_poll(manager)
    await until_long_polls(manager, 1)
    other_node_job = NewJob(
        id="0190a000-0000-7000-8000-000000000001", payload=b"1", priority=5, eta_ms=0, max_retries=3
    )
    await storage.insert(QUEUE, [other_node_job], now_ms=clock.now_ms(), dedup_window_ms=1000)
    assert storage.wakeup is not None
    storage.wakeup(QUEUE)
    assert [j.id for j in await _result(task)] == [other_node_job.id]
    await manager.stop()


async def test_long_polls_are_served_oldest_first(manager: QueueManager) -> None:
    tasks = []
    for waiting in range(1, 4):
        tasks.append(_long_poll(manager))
        await until_long_polls(manager, waiting)
    for task in tasks:
        result = await manager.enqueue(QUEUE, job())
        assert [j.id for j in await _result(task)] == [result.job_id]


async def test_one_batch_reaches_every_waiting_long_poll(manager: QueueManager) -> None:
    tasks = []
    for waiting in range(1, 6):
        tasks.append(_long_poll(manager, max_jobs=2))
        await until_long_polls(manager, waiting)
    await manager.enqueue_batch(QUEUE, [job() for _ in range(9)])
    sizes = [len(await _result(task)) for task in tasks]
    assert sizes == [2, 2, 2, 2, 1]


async def test_long_polls_on_other_queues_are_not_woken(manager: QueueManager) -> None:
    other = _long_poll(manager, queue="other")
    await until_long_polls(manager, 1, "other")
    mine = _long_poll(manager)
    await until_long_polls(manager, 1)
    await manager.enqueue(QUEUE, job())
    assert len(await _result(mine)) == 1
    assert not other.done()
    await manager.enqueue("other", job())
    assert len(await _result(other)) == 1


async def test_cancelled_long_poll_passes_its_wake_up_on(manager: QueueManager) -> None:
    first = _long_poll(manager)
    await until_long_polls(manager, 1)
    second = _long_poll(manager)
    await until_long_polls(manager, 2)
    await manager.enqueue(QUEUE, job())
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert len(await _result(second)) == 1


async def test_stop_releases_long_polls(manager: QueueManager) -> None:
    task = _long_poll(manager)
    await until_long_polls(manager, 1)
    await manager.stop()
    assert await _result(task) == []
    assert await manager.lease(QUEUE, wait_ms=LONG_MS) == []


async def test_long_poll_held_back_by_the_concurrency_limit_is_woken_by_an_ack(
    manager: QueueManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("rivetq.manager.SLOT_RECHECK_MS", 3_600_000)  # only the ack can wake it
    await manager.set_concurrency_limit(QUEUE, 1)
    await manager.enqueue_batch(QUEUE, [job(), job()])
    [first] = await manager.lease(QUEUE, max_jobs=5)
    task = _long_poll(manager, max_jobs=5)
    await until_long_polls(manager, 1)
    await manager.ack(first.id, first.lease_id or "")
    assert len(await _result(task)) == 1


async def test_long_poll_sees_a_slot_freed_behind_its_back(manager: QueueManager, storage: MemoryStorage) -> None:
    """As when another node acks: the long-poll looks again every SLOT_RECHECK_MS."""
    await manager.set_concurrency_limit(QUEUE, 1)
    await manager.enqueue_batch(QUEUE, [job(), job()])
    [first] = await manager.lease(QUEUE)
    task = _long_poll(manager)
    await until_long_polls(manager, 1)
    await storage.ack(first.id, first.lease_id or "", now_ms=manager.now_ms())
    assert len(await _result(task)) == 1
