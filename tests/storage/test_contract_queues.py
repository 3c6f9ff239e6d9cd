"""Storage contract, part 2: idempotency, atomic inserts, queue config, rate limits,
pause, stats, listings, and what survives a reopen.

Runs once per backend (see ``factories/__init__.py``); time is passed as ``now_ms``.
"""

from __future__ import annotations

import pytest

from rivetq.errors import JobNotFound, StateConflict
from rivetq.models import JobState, QueueConfig, RateLimit, RetryPolicy
from rivetq.storage.base import Storage
from tests.storage.contract_support import DAY_MS, QUEUE, T0, insert, job_id, lease, new_job, next_lease_id
from tests.storage.factories import BackendFactory

LIMITED = QueueConfig(rate_limit=RateLimit(capacity=2, refill_rate=1))


async def _ready_count(storage: Storage, now_ms: int = T0) -> int:
    stats = await storage.stats(QUEUE, now_ms=now_ms)
    return 0 if stats is None else stats.ready


async def _lease_result(storage: Storage, max_jobs: int, now_ms: int) -> tuple[int, bool]:
    result = await storage.lease(
        QUEUE, max_jobs=max_jobs, visibility_ms=60_000, now_ms=now_ms, new_lease_id=next_lease_id
    )
    return len(result.jobs), result.rate_limited


async def test_insert_returns_ids_in_order_and_counts(storage: Storage) -> None:
    results = await insert(storage, new_job(1), new_job(2))
    assert [(r.job_id, r.duplicate) for r in results] == [(job_id(1), False), (job_id(2), False)]
    job = await storage.get(job_id(1))
    assert (job.queue, job.payload, job.priority, job.tries, job.created_at_ms) == (QUEUE, b'{"n": 1}', 5, 0, T0)
    stats = await storage.stats(QUEUE, now_ms=T0)
    assert stats is not None and (stats.ready, stats.counters.enqueued_total) == (2, 2)


async def test_duplicate_key_returns_the_first_job_and_creates_nothing(storage: Storage) -> None:
    await insert(storage, new_job(1, key="k"))
    [result] = await insert(storage, new_job(2, key="k"), now_ms=T0 + DAY_MS - 1)
    assert (result.job_id, result.duplicate) == (job_id(1), True)
    with pytest.raises(JobNotFound):
        await storage.get(job_id(2))
    stats = await storage.stats(QUEUE, now_ms=T0)
    assert stats is not None and (stats.ready, stats.counters.enqueued_total) == (1, 1)


async def test_key_is_free_again_after_the_dedup_window(storage: Storage) -> None:
    await insert(storage, new_job(1, key="k"))
    [result] = await insert(storage, new_job(2, key="k"), now_ms=T0 + DAY_MS)
    assert (result.job_id, result.duplicate) == (job_id(2), False)
    [again] = await insert(storage, new_job(3, key="k"), now_ms=T0 + DAY_MS + 1)
    assert (again.job_id, again.duplicate) == (job_id(2), True)


async def test_duplicate_key_within_one_batch(storage: Storage) -> None:
    results = await insert(storage, new_job(1, key="k"), new_job(2, key="k"), new_job(3, key="j"))
    assert [(r.job_id, r.duplicate) for r in results] == [(job_id(1), False), (job_id(1), True), (job_id(3), False)]
    assert await _ready_count(storage) == 2


async def test_key_outlives_the_acked_job(storage: Storage) -> None:
    await insert(storage, new_job(1, key="k"))
    [job] = await lease(storage)
    await storage.ack(job.id, job.lease_id or "", now_ms=T0 + 1)
    [result] = await insert(storage, new_job(2, key="k"), now_ms=T0 + 2)
    assert (result.job_id, result.duplicate) == (job_id(1), True)


async def test_keys_belong_to_one_queue(storage: Storage) -> None:
    await insert(storage, new_job(1, key="k"))
    [result] = await insert(storage, new_job(2, key="k"), queue="other")
    assert result.duplicate is False


async def test_insert_batch_is_all_or_nothing(storage: Storage) -> None:
    await insert(storage, new_job(1))
    with pytest.raises(StateConflict):
        await insert(storage, new_job(2, key="k"), new_job(1), new_job(3))
    for n in (2, 3):
        with pytest.raises(JobNotFound):
            await storage.get(job_id(n))
    [result] = await insert(storage, new_job(4, key="k"))
    assert result.duplicate is False
    stats = await storage.stats(QUEUE, now_ms=T0)
    assert stats is not None and (stats.ready, stats.counters.enqueued_total) == (2, 2)


async def test_queue_config_round_trips(storage: Storage) -> None:
    assert await storage.get_queue_config(QUEUE) == QueueConfig()
    config = QueueConfig(
        paused=True,
        rate_limit=RateLimit(capacity=5.5, refill_rate=0.25),
        retry_policy=RetryPolicy(base_backoff_ms=10, multiplier=3.0, max_backoff_ms=100, jitter="full"),
    )
    await storage.update_queue_config(QUEUE, lambda _: config, now_ms=T0)
    assert await storage.get_queue_config(QUEUE) == config
    stats = await storage.stats(QUEUE, now_ms=T0)
    assert stats is not None and stats.config == config
    await storage.update_queue_config(QUEUE, lambda _: QueueConfig(), now_ms=T0)
    assert await storage.get_queue_config(QUEUE) == QueueConfig()


async def test_rate_limit_bucket_starts_full_and_refills(storage: Storage) -> None:
    await storage.update_queue_config(QUEUE, lambda _: LIMITED, now_ms=T0)
    await insert(storage, *(new_job(n) for n in range(1, 11)))
    assert await _lease_result(storage, 5, T0) == (2, True)
    assert await _lease_result(storage, 5, T0 + 999) == (0, True)
    assert await _lease_result(storage, 5, T0 + 1000) == (1, True)
    assert await _lease_result(storage, 5, T0 + 60_000) == (2, True)


async def test_rate_limit_keeps_tokens_no_job_used(storage: Storage) -> None:
    await storage.update_queue_config(QUEUE, lambda _: LIMITED, now_ms=T0)
    await insert(storage, new_job(1))
    assert await _lease_result(storage, 5, T0) == (1, False)
    assert await _lease_result(storage, 5, T0) == (0, False)
    await insert(storage, new_job(2), new_job(3))
    assert await _lease_result(storage, 5, T0) == (1, True)


async def test_unchanged_rate_limit_keeps_its_bucket(storage: Storage) -> None:
    await storage.update_queue_config(QUEUE, lambda _: LIMITED, now_ms=T0)
    await insert(storage, *(new_job(n) for n in range(1, 11)))
    assert await _lease_result(storage, 5, T0) == (2, True)
    same_limit = QueueConfig(paused=False, rate_limit=LIMITED.rate_limit)
    await storage.update_queue_config(QUEUE, lambda _: same_limit, now_ms=T0)
    assert await _lease_result(storage, 5, T0) == (0, True)
    changed = QueueConfig(rate_limit=RateLimit(capacity=3, refill_rate=1))
    await storage.update_queue_config(QUEUE, lambda _: changed, now_ms=T0)
    assert await _lease_result(storage, 5, T0) == (3, True)
    await storage.update_queue_config(QUEUE, lambda _: QueueConfig(), now_ms=T0)
    assert await _lease_result(storage, 10, T0) == (5, False)


async def test_paused_queue_leases_nothing(storage: Storage) -> None:
    await insert(storage, new_job(1))
    await storage.update_queue_config(QUEUE, lambda _: QueueConfig(paused=True), now_ms=T0)
    assert await lease(storage) == []
    await storage.update_queue_config(QUEUE, lambda _: QueueConfig(paused=False), now_ms=T0)
    assert [j.id for j in await lease(storage)] == [job_id(1)]


async def test_stats_count_every_state(storage: Storage) -> None:
    await insert(storage, *(new_job(n) for n in range(1, 5)), new_job(5, eta_ms=T0 + 100))
    one, two = await lease(storage, max_jobs=2)
    await storage.bury(one.id, one.lease_id or "", error=None, now_ms=T0)
    await storage.ack(two.id, two.lease_id or "", now_ms=T0)
    await lease(storage, max_jobs=1)
    stats = await storage.stats(QUEUE, now_ms=T0)
    assert stats is not None
    assert (stats.ready, stats.delayed, stats.inflight, stats.dlq) == (1, 1, 1, 1)
    counters = stats.counters
    assert (counters.enqueued_total, counters.leased_total, counters.acked_total, counters.nacked_total) == (
        5,
        3,
        1,
        1,
    )


async def test_list_queues_shows_queues_with_jobs_or_config_by_name(storage: Storage) -> None:
    assert await storage.list_queues(now_ms=T0) == []
    await insert(storage, new_job(1), queue="b")
    await storage.update_queue_config("a", lambda _: QueueConfig(paused=True), now_ms=T0)
    await insert(storage, new_job(2), queue="c")
    await storage.purge("c", now_ms=T0)
    queues = await storage.list_queues(now_ms=T0)
    assert [(s.queue, s.ready, s.config.paused) for s in queues] == [("a", 0, True), ("b", 1, False), ("c", 0, False)]
    assert await storage.stats("a", now_ms=T0) == queues[0]


async def test_list_jobs_pages_in_id_order(storage: Storage) -> None:
    await insert(storage, *(new_job(n) for n in (5, 3, 1, 4, 2)))
    await insert(storage, new_job(9), queue="other")
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(3):
        page = await storage.list_jobs(QUEUE, state=None, limit=2, cursor=cursor, now_ms=T0)
        seen += [j.id for j in page.jobs]
        cursor = page.next_cursor
    assert seen == [job_id(n) for n in range(1, 6)]
    assert cursor is None
    exact = await storage.list_jobs(QUEUE, state=None, limit=5, cursor=None, now_ms=T0)
    assert (len(exact.jobs), exact.next_cursor) == (5, None)
    empty = await storage.list_jobs("nobody", state=None, limit=5, cursor=None, now_ms=T0)
    assert (empty.jobs, empty.next_cursor) == ([], None)


async def test_list_jobs_filters_by_visible_state(storage: Storage) -> None:
    await insert(storage, new_job(1), new_job(2), new_job(3), new_job(4, eta_ms=T0 + 500))
    one, two = await lease(storage, max_jobs=2)
    await storage.bury(two.id, two.lease_id or "", error=None, now_ms=T0)

    async def ids(state: JobState, now_ms: int = T0) -> list[str]:
        page = await storage.list_jobs(QUEUE, state=state, limit=10, cursor=None, now_ms=now_ms)
        return [j.id for j in page.jobs]

    assert await ids(JobState.INFLIGHT) == [one.id]
    assert await ids(JobState.DEAD) == [two.id]
    assert await ids(JobState.READY) == [job_id(3)]
    assert await ids(JobState.DELAYED) == [job_id(4)]
    assert await ids(JobState.READY, T0 + 500) == [job_id(3), job_id(4)]


async def test_next_eta_is_the_earliest_future_eta(storage: Storage) -> None:
    assert await storage.next_eta_ms(QUEUE, now_ms=T0) is None
    await insert(storage, new_job(1), new_job(2, eta_ms=T0 + 300), new_job(3, eta_ms=T0 + 200))
    assert await storage.next_eta_ms(QUEUE, now_ms=T0) == T0 + 200
    assert await storage.next_eta_ms(QUEUE, now_ms=T0 + 200) == T0 + 300
    assert await storage.next_eta_ms(QUEUE, now_ms=T0 + 300) is None
    await storage.delete(job_id(2), now_ms=T0)
    assert await storage.next_eta_ms(QUEUE, now_ms=T0 + 250) is None


async def test_reopen_keeps_everything(storage_factory: BackendFactory, storage: Storage) -> None:
    await storage.update_queue_config(QUEUE, lambda _: LIMITED, now_ms=T0)
    await insert(storage, new_job(1, key="k"), new_job(2), new_job(3), new_job(4, eta_ms=T0 + 5000))
    one, two = await lease(storage, max_jobs=5)
    dead = await storage.bury(two.id, two.lease_id or "", error="fatal", now_ms=T0)
    before = {n: await storage.get(job_id(n)) for n in (1, 3, 4)}
    stats_before = await storage.stats(QUEUE, now_ms=T0)

    reopened = await storage_factory.reopen(storage)

    if storage_factory.durable:
        assert {n: await reopened.get(job_id(n)) for n in (1, 3, 4)} == before
        assert await reopened.get(dead.id) == dead
        assert await reopened.stats(QUEUE, now_ms=T0) == stats_before
        assert (await insert(reopened, new_job(5, key="k")))[0].duplicate is True
        assert await _lease_result(reopened, 5, T0) == (0, True)
        await reopened.ack(one.id, one.lease_id or "", now_ms=T0 + 1)
        await insert(reopened, new_job(6))
        assert (await reopened.get(job_id(6))).seq > before[4].seq
    await insert(reopened, new_job(7), queue="fresh")
    assert [j.id for j in await lease(reopened, queue="fresh")] == [job_id(7)]
