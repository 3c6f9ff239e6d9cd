"""Storage contract: the per-queue concurrency limit (jobs in flight at once). Runs once
per backend."""

from __future__ import annotations

from rivetq.models import QueueConfig, RateLimit
from rivetq.storage.base import Storage
from tests.storage.contract_support import QUEUE, T0, insert, new_job, next_lease_id


async def _limit(storage: Storage, config: QueueConfig) -> None:
    await storage.update_queue_config(QUEUE, lambda _: config, now_ms=T0)


async def _lease(storage: Storage, max_jobs: int) -> tuple[list[str], bool]:
    result = await storage.lease(QUEUE, max_jobs=max_jobs, visibility_ms=60_000, now_ms=T0, new_lease_id=next_lease_id)
    return [job.lease_id or "" for job in result.jobs], result.concurrency_limited


async def test_lease_hands_out_no_more_than_the_limit_in_flight(storage: Storage) -> None:
    await insert(storage, *(new_job(n) for n in range(1, 8)))
    await _limit(storage, QueueConfig(max_inflight=3))
    first, capped = await _lease(storage, 2)
    assert (len(first), capped) == (2, False)
    second, capped = await _lease(storage, 5)
    assert (len(second), capped) == (1, True)
    assert await _lease(storage, 5) == ([], True)
    stats = await storage.stats(QUEUE, now_ms=T0)
    assert stats is not None and stats.inflight == 3 and stats.config.max_inflight == 3


async def test_an_ack_frees_a_slot(storage: Storage) -> None:
    await insert(storage, *(new_job(n) for n in range(1, 4)))
    await _limit(storage, QueueConfig(max_inflight=1))
    result = await storage.lease(QUEUE, max_jobs=5, visibility_ms=60_000, now_ms=T0, new_lease_id=next_lease_id)
    [job] = result.jobs
    await storage.ack(job.id, job.lease_id or "", now_ms=T0)
    assert len((await _lease(storage, 5))[0]) == 1


async def test_a_limit_with_no_ready_job_left_is_not_reported_as_limiting(storage: Storage) -> None:
    await insert(storage, new_job(1))
    await _limit(storage, QueueConfig(max_inflight=1))
    assert await _lease(storage, 5) == ([await _only_lease_id(storage)], False)


async def _only_lease_id(storage: Storage) -> str:
    page = await storage.list_jobs(QUEUE, state=None, limit=1, cursor=None, now_ms=T0)
    return page.jobs[0].lease_id or ""


async def test_the_limit_and_a_rate_limit_both_apply(storage: Storage) -> None:
    await insert(storage, *(new_job(n) for n in range(1, 8)))
    await _limit(storage, QueueConfig(max_inflight=4, rate_limit=RateLimit(capacity=2, refill_rate=1)))
    leased, _ = await _lease(storage, 5)
    assert len(leased) == 2  # the bucket's two tokens
    result = await storage.lease(
        QUEUE, max_jobs=5, visibility_ms=60_000, now_ms=T0 + 10_000, new_lease_id=next_lease_id
    )
    assert (len(result.jobs), result.concurrency_limited) == (2, True)  # two slots left, tokens to spare


async def test_removing_the_limit_lifts_it(storage: Storage) -> None:
    await insert(storage, *(new_job(n) for n in range(1, 5)))
    await _limit(storage, QueueConfig(max_inflight=1))
    await _lease(storage, 5)
    await _limit(storage, QueueConfig())
    assert len((await _lease(storage, 5))[0]) == 3
