"""Storage contract: deleting a queue entirely. Runs once per backend."""

from __future__ import annotations

import pytest

from rivetq.errors import JobNotFound, QueueNotFound, StateConflict
from rivetq.models import QueueConfig, RateLimit
from rivetq.storage.base import Storage
from tests.storage.contract_support import QUEUE, T0, insert, job_id, lease, new_job
from tests.storage.factories import BackendFactory

CONFIGURED = QueueConfig(paused=True, rate_limit=RateLimit(capacity=5, refill_rate=1))


async def _a_full_queue(storage: Storage) -> None:
    """Waiting, delayed and dead jobs, config, counters and an idempotency key."""
    await storage.update_queue_config(QUEUE, lambda _: QueueConfig(), now_ms=T0)
    await insert(storage, new_job(1, key="order-1"), new_job(2, eta_ms=T0 + 60_000), new_job(3))
    [dying] = await lease(storage, max_jobs=1)
    await storage.bury(dying.id, dying.lease_id or "", error="fatal", now_ms=T0)
    await storage.update_queue_config(QUEUE, lambda _: CONFIGURED, now_ms=T0)


async def test_delete_queue_removes_jobs_config_counters_and_keys(storage: Storage) -> None:
    await _a_full_queue(storage)
    await insert(storage, new_job(9), queue="other")
    assert await storage.delete_queue(QUEUE, force=False, now_ms=T0) == 3
    assert await storage.stats(QUEUE, now_ms=T0) is None
    assert [stats.queue for stats in await storage.list_queues(now_ms=T0)] == ["other"]
    assert await storage.get_queue_config(QUEUE) == QueueConfig()
    for n in (1, 2, 3):
        with pytest.raises(JobNotFound):
            await storage.get(job_id(n))
    # A new queue of the same name starts afresh: no old key, counters from zero.
    [result] = await insert(storage, new_job(4, key="order-1"))
    assert result.duplicate is False
    stats = await storage.stats(QUEUE, now_ms=T0)
    assert stats is not None and stats.counters.enqueued_total == 1 and stats.config == QueueConfig()
    assert [job.id for job in await lease(storage)] == [job_id(4)]


async def test_delete_queue_refuses_while_jobs_are_inflight_and_changes_nothing(storage: Storage) -> None:
    await insert(storage, new_job(1), new_job(2))
    [leased] = await lease(storage, max_jobs=1)
    before = await storage.stats(QUEUE, now_ms=T0)
    with pytest.raises(StateConflict, match="1 job"):
        await storage.delete_queue(QUEUE, force=False, now_ms=T0)
    assert await storage.stats(QUEUE, now_ms=T0) == before
    assert (await storage.get(leased.id)).lease_id == leased.lease_id


async def test_forced_delete_takes_inflight_jobs_too(storage: Storage) -> None:
    await insert(storage, new_job(1), new_job(2))
    [leased] = await lease(storage, max_jobs=1)
    assert await storage.delete_queue(QUEUE, force=True, now_ms=T0) == 2
    with pytest.raises(JobNotFound):
        await storage.ack(leased.id, leased.lease_id or "", now_ms=T0)
    assert await storage.expired_leases(now_ms=T0 + 10**9, limit=10) == []


async def test_delete_of_an_unknown_queue_is_queue_not_found(storage: Storage) -> None:
    with pytest.raises(QueueNotFound):
        await storage.delete_queue("never-seen", force=True, now_ms=T0)


async def test_a_deleted_queue_stays_deleted_after_a_reopen(storage_factory: BackendFactory, storage: Storage) -> None:
    await _a_full_queue(storage)
    await storage.delete_queue(QUEUE, force=False, now_ms=T0)
    reopened = await storage_factory.reopen(storage)
    assert await reopened.list_queues(now_ms=T0) == []
    with pytest.raises(JobNotFound):
        await reopened.get(job_id(1))
    [result] = await insert(reopened, new_job(5, key="order-1"))
    assert result.duplicate is False
