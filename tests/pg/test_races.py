"""Races between nodes, at the storage level: two ``PostgresStorage`` instances (two
pools, as two rivetqd processes would have) on one database, called concurrently."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator

import msgspec
import pytest

from rivetq import wire
from rivetq.clock import FakeClock, SystemClock
from rivetq.errors import JobNotFound
from rivetq.ids import new_lease_id
from rivetq.manager import QueueManager
from rivetq.models import NewJob, RateLimit, RetryPolicy
from rivetq.storage.postgres import PostgresStorage

T0 = 1_700_000_000_000
DAY_MS = 86_400_000


def _job(n: int, key: str | None = None) -> NewJob:
    return NewJob(id=f"job-{n:04d}", payload=b"{}", priority=n % 10, eta_ms=T0, max_retries=3, idempotency_key=key)


@pytest.fixture
async def nodes(fresh_database: str) -> AsyncIterator[list[PostgresStorage]]:
    opened = [PostgresStorage(fresh_database, max_pool_size=8) for _ in range(2)]
    for storage in opened:
        await storage.open()
    yield opened
    for storage in opened:
        await storage.close()


async def test_one_idempotency_key_raced_by_two_nodes_creates_one_job(nodes: list[PostgresStorage]) -> None:
    inserts = [
        nodes[n % 2].insert("emails", [_job(n, key="order-42")], now_ms=T0, dedup_window_ms=DAY_MS) for n in range(16)
    ]
    results = [result for batch in await asyncio.gather(*inserts) for result in batch]
    created = [r.job_id for r in results if not r.duplicate]
    assert len(created) == 1
    assert {r.job_id for r in results} == set(created)
    stats = await nodes[0].stats("emails", now_ms=T0)
    assert stats is not None
    assert (stats.ready, stats.counters.enqueued_total) == (1, 1)


async def test_concurrent_leases_on_two_nodes_hand_out_each_job_once(nodes: list[PostgresStorage]) -> None:
    await nodes[0].insert("emails", [_job(n) for n in range(200)], now_ms=T0, dedup_window_ms=DAY_MS)

    async def drain(storage: PostgresStorage) -> list[str]:
        taken: list[str] = []
        while True:
            result = await storage.lease(
                "emails", max_jobs=3, visibility_ms=60_000, now_ms=T0, new_lease_id=new_lease_id
            )
            if not result.jobs:
                return taken
            taken += [job.id for job in result.jobs]

    batches = await asyncio.gather(*(drain(nodes[n % 2]) for n in range(8)))
    leased = Counter(job_id for batch in batches for job_id in batch)
    assert len(leased) == 200
    assert set(leased.values()) == {1}
    stats = await nodes[1].stats("emails", now_ms=T0)
    assert stats is not None
    assert (stats.inflight, stats.counters.leased_total) == (200, 200)


async def test_settings_changed_on_two_nodes_at_once_are_both_kept(nodes: list[PostgresStorage]) -> None:
    """Each node reads, changes one setting and writes the whole config: without the row
    locked, the later write put back what the earlier one had just changed."""
    managers = [QueueManager(storage, clock=SystemClock()) for storage in nodes]
    policy = RetryPolicy(base_backoff_ms=5000)
    limit = RateLimit(capacity=5, refill_rate=1)
    for round_ in range(10):
        queue = f"settings-{round_}"
        await managers[0].pause(queue)
        await asyncio.gather(managers[0].set_retry_policy(queue, policy), managers[1].resume(queue))
        await asyncio.gather(managers[1].pause(queue), managers[0].set_rate_limit(queue, limit))
        config = await nodes[1].get_queue_config(queue)
        assert (config.paused, config.retry_policy, config.rate_limit) == (True, policy, limit)


async def test_enqueues_racing_a_queue_deletion_are_deleted_or_fully_visible(nodes: list[PostgresStorage]) -> None:
    """Each job enqueued on one node while another deletes its queue is either gone with
    the queue or in a queue that exists again (never a job that no listing shows)."""
    for round_ in range(20):
        queue = f"deleted-{round_}"
        await nodes[0].insert(queue, [_job(round_ * 100)], now_ms=T0, dedup_window_ms=DAY_MS)
        inserts = [
            nodes[1].insert(queue, [_job(round_ * 100 + n, key=f"k{n}" if n % 2 else None)], now_ms=T0,
                            dedup_window_ms=DAY_MS)
            for n in range(1, 7)
        ]  # fmt: skip
        await asyncio.gather(nodes[0].delete_queue(queue, force=True, now_ms=T0), *inserts)
        remaining = await _existing(nodes[0], [f"job-{round_ * 100 + n:04d}" for n in range(7)])
        stats = await nodes[0].stats(queue, now_ms=T0)
        if remaining:
            assert stats is not None, f"round {round_}: {len(remaining)} jobs of a queue that does not exist"
            assert (stats.ready, stats.counters.enqueued_total) == (len(remaining), len(remaining))
        else:
            assert stats is None


async def _existing(storage: PostgresStorage, job_ids: list[str]) -> list[str]:
    found: list[str] = []
    for job_id in job_ids:
        with contextlib.suppress(JobNotFound):
            found.append((await storage.get(job_id)).id)
    return found


async def test_concurrent_leases_on_two_nodes_respect_the_concurrency_limit(nodes: list[PostgresStorage]) -> None:
    managers = [QueueManager(storage, clock=SystemClock()) for storage in nodes]
    await managers[0].set_concurrency_limit("limited", 5)
    await nodes[0].insert("limited", [_job(n) for n in range(100)], now_ms=T0, dedup_window_ms=DAY_MS)
    batches = await asyncio.gather(*(managers[n % 2].lease("limited", max_jobs=3) for n in range(16)))
    assert sum(len(batch) for batch in batches) == 5
    stats = await nodes[1].stats("limited", now_ms=T0)
    assert stats is not None and stats.inflight == 5


async def test_two_nodes_firing_the_same_ticks_enqueue_one_job_each(nodes: list[PostgresStorage]) -> None:
    clock = FakeClock()
    clock.set(T0)
    managers = [QueueManager(storage, clock=clock) for storage in nodes]
    body = wire.ScheduleBody(queue="ticks", payload=msgspec.Raw(b"1"), interval_ms=60_000, catchup="all")
    await managers[0].put_schedule("every-minute", body)
    for _ in range(5):
        clock.advance(60_000)
        await asyncio.gather(*(manager.fire_due_schedules() for manager in managers * 3))
    stats = await nodes[0].stats("ticks", now_ms=clock.now_ms())
    assert stats is not None and stats.ready == 5
    schedule = await managers[1].get_schedule("every-minute")
    assert (schedule.runs_total, schedule.next_run_at_ms) == (5, T0 + 6 * 60_000)
