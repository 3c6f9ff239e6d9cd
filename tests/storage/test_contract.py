"""Storage contract, part 1: service order, leases and job transitions.

Runs once per backend (see ``factories/__init__.py``); time is passed as ``now_ms``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from rivetq.errors import JobNotFound, LeaseLost, StateConflict
from rivetq.models import Job, JobState, StoredState
from rivetq.storage.base import Storage
from tests.storage.contract_support import QUEUE, T0, insert, job_id, lease, new_job

LeaseOp = Callable[[Storage, str, str, int], Awaitable[object]]


async def _ack(s: Storage, job: str, lease_id: str, now: int) -> object:
    await s.ack(job, lease_id, now_ms=now)
    return None


async def _extend(s: Storage, job: str, lease_id: str, now: int) -> object:
    return await s.extend(job, lease_id, expires_at_ms=now + 60_000, now_ms=now)


async def _retry(s: Storage, job: str, lease_id: str, now: int) -> object:
    return await s.retry(job, lease_id, eta_ms=now, error="boom", now_ms=now)


async def _bury(s: Storage, job: str, lease_id: str, now: int) -> object:
    return await s.bury(job, lease_id, error="boom", now_ms=now)


LEASE_OPS = pytest.mark.parametrize("op", [_ack, _extend, _retry, _bury], ids=["ack", "extend", "retry", "bury"])


async def _leased_one(storage: Storage, *, visibility_ms: int = 30_000) -> Job:
    await insert(storage, new_job(1))
    [job] = await lease(storage, visibility_ms=visibility_ms)
    return job


async def test_lease_serves_priority_then_eta_then_enqueue_order(storage: Storage) -> None:
    await insert(
        storage,
        new_job(1, priority=5, eta_ms=T0),
        new_job(2, priority=9, eta_ms=T0 + 50),
        new_job(3, priority=5, eta_ms=T0 - 10),
        new_job(4, priority=5, eta_ms=T0),
        new_job(5, priority=0, eta_ms=T0 - 1000),
        new_job(6, priority=9, eta_ms=T0 + 500),
    )
    jobs = await lease(storage, now_ms=T0 + 100)
    assert [j.id for j in jobs] == [job_id(n) for n in (2, 3, 1, 4, 5)]


async def test_lease_one_at_a_time_keeps_service_order(storage: Storage) -> None:
    await insert(storage, *(new_job(n, priority=n % 3, eta_ms=T0 - n % 2) for n in range(1, 13)))
    served = [(await lease(storage, max_jobs=1))[0] for _ in range(12)]
    keys = [(-j.priority, j.eta_ms, j.seq) for j in served]
    assert keys == sorted(keys)
    assert await lease(storage) == []


async def test_lease_orders_by_seq_in_enqueue_order(storage: Storage) -> None:
    await insert(storage, new_job(1))
    await insert(storage, new_job(2))
    first, second = await storage.get(job_id(1)), await storage.get(job_id(2))
    assert first.seq < second.seq


async def test_retried_job_keeps_its_enqueue_order(storage: Storage) -> None:
    await insert(storage, new_job(1), new_job(2))
    [first] = await lease(storage, max_jobs=1, now_ms=T0 + 10)
    await storage.retry(first.id, first.lease_id or "", eta_ms=T0, error="again", now_ms=T0 + 20)
    jobs = await lease(storage, now_ms=T0 + 30)
    assert [j.id for j in jobs] == [job_id(1), job_id(2)]


async def test_delayed_job_becomes_ready_at_its_eta(storage: Storage) -> None:
    await insert(storage, new_job(1, eta_ms=T0 + 1000))
    assert await lease(storage, now_ms=T0) == []
    assert await lease(storage, now_ms=T0 + 999) == []
    [job] = await lease(storage, now_ms=T0 + 1000)
    assert job.id == job_id(1)


async def test_stats_count_delayed_until_eta(storage: Storage) -> None:
    await insert(storage, new_job(1, eta_ms=T0 + 1000), new_job(2))
    early = await storage.stats(QUEUE, now_ms=T0)
    due = await storage.stats(QUEUE, now_ms=T0 + 1000)
    assert early is not None and (early.ready, early.delayed) == (1, 1)
    assert due is not None and (due.ready, due.delayed) == (2, 0)


async def test_lease_hands_out_at_most_max_jobs(storage: Storage) -> None:
    await insert(storage, *(new_job(n) for n in range(1, 6)))
    assert len(await lease(storage, max_jobs=2)) == 2
    assert len(await lease(storage, max_jobs=10)) == 3


async def test_lease_sets_lease_fields_and_keeps_tries(storage: Storage) -> None:
    await insert(storage, new_job(1), new_job(2))
    jobs = await lease(storage, now_ms=T0 + 5, visibility_ms=7000)
    assert len({j.lease_id for j in jobs}) == 2
    for job in jobs:
        assert job.state is StoredState.INFLIGHT
        assert job.lease_expires_at_ms == T0 + 7005
        assert job.tries == 0
        assert await storage.get(job.id) == job
        assert job.state_at(T0 + 5) is JobState.INFLIGHT


async def test_leased_job_is_not_leased_again_even_after_expiry(storage: Storage) -> None:
    job = await _leased_one(storage, visibility_ms=1000)
    assert await lease(storage, now_ms=T0 + 999) == []
    assert await lease(storage, now_ms=T0 + 5000) == []
    assert (await storage.get(job.id)).lease_id == job.lease_id


async def test_lease_of_unknown_queue_is_empty_and_creates_nothing(storage: Storage) -> None:
    await insert(storage, new_job(1), queue="other")
    assert await lease(storage, queue="nobody") == []
    assert await storage.stats("nobody", now_ms=T0) is None
    assert [s.queue for s in await storage.list_queues(now_ms=T0)] == ["other"]


@LEASE_OPS
async def test_wrong_lease_is_rejected_and_changes_nothing(storage: Storage, op: LeaseOp) -> None:
    job = await _leased_one(storage)
    with pytest.raises(LeaseLost):
        await op(storage, job.id, "not-the-lease", T0 + 10)
    assert await storage.get(job.id) == job


@LEASE_OPS
async def test_stale_lease_is_rejected_after_a_new_lease(storage: Storage, op: LeaseOp) -> None:
    old = await _leased_one(storage)
    await storage.retry(old.id, old.lease_id or "", eta_ms=T0 + 10, error=None, now_ms=T0 + 10)
    [new] = await lease(storage, now_ms=T0 + 20)
    with pytest.raises(LeaseLost):
        await op(storage, old.id, old.lease_id or "", T0 + 30)
    assert await storage.get(new.id) == new


@LEASE_OPS
async def test_expired_lease_is_rejected_and_changes_nothing(storage: Storage, op: LeaseOp) -> None:
    job = await _leased_one(storage, visibility_ms=1000)
    with pytest.raises(LeaseLost):
        await op(storage, job.id, job.lease_id or "", T0 + 1000)
    assert await storage.get(job.id) == job


@LEASE_OPS
async def test_unknown_job_is_job_not_found(storage: Storage, op: LeaseOp) -> None:
    with pytest.raises(JobNotFound):
        await op(storage, job_id(99), "lease", T0)


async def test_ack_removes_the_job(storage: Storage) -> None:
    job = await _leased_one(storage)
    assert await storage.ack(job.id, job.lease_id or "", now_ms=T0 + 999) == QUEUE
    with pytest.raises(JobNotFound):
        await storage.get(job.id)
    with pytest.raises(JobNotFound):
        await storage.ack(job.id, job.lease_id or "", now_ms=T0 + 1000)
    stats = await storage.stats(QUEUE, now_ms=T0)
    assert stats is not None and (stats.inflight, stats.ready, stats.counters.acked_total) == (0, 0, 1)


async def test_ack_batch_reports_each_ack_on_its_own(storage: Storage) -> None:
    await insert(storage, new_job(1), new_job(2), new_job(3))
    one, two, three = await lease(storage)
    results = await storage.ack_batch(
        [(one.id, one.lease_id or ""), (two.id, "wrong"), (job_id(99), "x"), (three.id, three.lease_id or "")],
        now_ms=T0 + 1,
    )
    assert [r.job_id for r in results] == [one.id, two.id, job_id(99), three.id]
    assert [r.error_code for r in results] == [None, "lease_lost", "job_not_found", None]
    assert [r.queue for r in results] == [QUEUE, None, None, QUEUE]
    assert results[1].error and results[0].error is None
    assert await storage.get(two.id) == two
    with pytest.raises(JobNotFound):
        await storage.get(three.id)


async def test_extend_moves_the_expiry(storage: Storage) -> None:
    job = await _leased_one(storage, visibility_ms=1000)
    extended = await storage.extend(job.id, job.lease_id or "", expires_at_ms=T0 + 60_000, now_ms=T0 + 500)
    assert extended.lease_expires_at_ms == T0 + 60_000
    assert extended.lease_id == job.lease_id
    assert await storage.get(job.id) == extended
    assert await storage.expired_leases(now_ms=T0 + 1000, limit=10) == []
    await storage.ack(job.id, job.lease_id or "", now_ms=T0 + 59_999)


async def test_retry_counts_the_attempt_and_waits_for_eta(storage: Storage) -> None:
    job = await _leased_one(storage)
    retried = await storage.retry(job.id, job.lease_id or "", eta_ms=T0 + 5000, error="boom", now_ms=T0 + 100)
    assert (retried.tries, retried.eta_ms, retried.last_error) == (1, T0 + 5000, "boom")
    assert retried.state is StoredState.WAITING
    assert (retried.lease_id, retried.lease_expires_at_ms) == (None, None)
    assert await storage.get(job.id) == retried
    assert await lease(storage, now_ms=T0 + 4999) == []
    [again] = await lease(storage, now_ms=T0 + 5000)
    assert again.tries == 1


async def test_bury_moves_the_job_to_the_dead_letter_queue(storage: Storage) -> None:
    job = await _leased_one(storage)
    dead = await storage.bury(job.id, job.lease_id or "", error="fatal", now_ms=T0 + 100)
    assert (dead.state, dead.tries, dead.last_error, dead.lease_id) == (StoredState.DEAD, 1, "fatal", None)
    assert dead.state_at(T0 + 100) is JobState.DEAD
    page = await storage.list_jobs(QUEUE, state=JobState.DEAD, limit=10, cursor=None, now_ms=T0 + 100)
    assert page.jobs == [dead]
    assert await lease(storage, now_ms=T0 + 200) == []
    stats = await storage.stats(QUEUE, now_ms=T0 + 200)
    assert stats is not None and (stats.dlq, stats.inflight, stats.ready) == (1, 0, 0)


@pytest.mark.parametrize("bury", [False, True], ids=["retry", "bury"])
async def test_expired_transition_needs_an_expired_lease(storage: Storage, bury: bool) -> None:
    job = await _leased_one(storage, visibility_ms=1000)

    async def expire(now: int) -> Job:
        if bury:
            return await storage.bury(job.id, job.lease_id or "", error="lease expired", now_ms=now, expired=True)
        return await storage.retry(
            job.id, job.lease_id or "", eta_ms=now, error="lease expired", now_ms=now, expired=True
        )

    with pytest.raises(LeaseLost):
        await expire(T0 + 999)
    assert await storage.get(job.id) == job
    moved = await expire(T0 + 1000)
    assert (moved.tries, moved.last_error) == (1, "lease expired")
    with pytest.raises(LeaseLost):
        await expire(T0 + 1001)
    stats = await storage.stats(QUEUE, now_ms=T0 + 1000)
    assert stats is not None and stats.counters.nacked_total == 0


async def test_nacks_count_but_expiry_does_not(storage: Storage) -> None:
    await insert(storage, new_job(1), new_job(2), new_job(3))
    a, b, c = await lease(storage, visibility_ms=1000)
    await storage.retry(a.id, a.lease_id or "", eta_ms=T0, error=None, now_ms=T0 + 1)
    await storage.bury(b.id, b.lease_id or "", error=None, now_ms=T0 + 1)
    await storage.retry(c.id, c.lease_id or "", eta_ms=T0, error=None, now_ms=T0 + 1000, expired=True)
    stats = await storage.stats(QUEUE, now_ms=T0 + 1000)
    assert stats is not None
    assert (stats.counters.enqueued_total, stats.counters.leased_total, stats.counters.nacked_total) == (3, 3, 2)


async def test_expired_leases_lists_soonest_expired_first(storage: Storage) -> None:
    await insert(storage, new_job(1), new_job(2), new_job(3), new_job(4))
    for visibility, count in ((3000, 1), (1000, 1), (2000, 1), (9000, 1)):
        await lease(storage, max_jobs=count, visibility_ms=visibility)
    expired = await storage.expired_leases(now_ms=T0 + 3000, limit=10)
    assert [j.id for j in expired] == [job_id(2), job_id(3), job_id(1)]
    assert [j.id for j in await storage.expired_leases(now_ms=T0 + 3000, limit=2)] == [job_id(2), job_id(3)]
    assert await storage.expired_leases(now_ms=T0 + 999, limit=10) == []
    first = expired[0]
    await storage.retry(first.id, first.lease_id or "", eta_ms=T0, error=None, now_ms=T0 + 3000, expired=True)
    assert [j.id for j in await storage.expired_leases(now_ms=T0 + 3000, limit=10)] == [job_id(3), job_id(1)]


async def test_expired_leases_lists_an_extended_job_once(storage: Storage) -> None:
    job = await _leased_one(storage, visibility_ms=1000)
    lease_id = job.lease_id or ""
    await storage.extend(job.id, lease_id, expires_at_ms=T0 + 1000, now_ms=T0 + 100)
    await storage.extend(job.id, lease_id, expires_at_ms=T0 + 5000, now_ms=T0 + 200)
    await storage.extend(job.id, lease_id, expires_at_ms=T0 + 1000, now_ms=T0 + 300)
    expired = await storage.expired_leases(now_ms=T0 + 6000, limit=10)
    assert [j.id for j in expired] == [job.id]
    assert expired[0].lease_expires_at_ms == T0 + 1000


async def _dead_jobs(storage: Storage, count: int, *, queue: str = QUEUE, first: int = 1) -> list[Job]:
    await insert(storage, *(new_job(n) for n in range(first, first + count)), queue=queue)
    leased = await lease(storage, queue=queue)
    return [await storage.bury(j.id, j.lease_id or "", error="x", now_ms=T0 + 1) for j in leased]


async def test_requeue_given_dead_jobs_resets_tries(storage: Storage) -> None:
    one, _two, three = await _dead_jobs(storage, 3)
    [other] = await _dead_jobs(storage, 1, queue="other", first=10)
    await insert(storage, new_job(20))
    moved = await storage.requeue(QUEUE, [one.id, three.id, other.id, job_id(20), job_id(99)], now_ms=T0 + 50)
    assert moved == 2
    requeued = await storage.get(one.id)
    assert (requeued.state, requeued.tries, requeued.eta_ms) == (StoredState.WAITING, 0, T0 + 50)
    assert (await storage.get(other.id)).state is StoredState.DEAD
    leased = await lease(storage, now_ms=T0 + 50)
    assert sorted(j.id for j in leased) == sorted([one.id, three.id, job_id(20)])


async def test_requeue_all_dead_jobs(storage: Storage) -> None:
    await _dead_jobs(storage, 3)
    assert await storage.requeue(QUEUE, None, now_ms=T0 + 50) == 3
    stats = await storage.stats(QUEUE, now_ms=T0 + 50)
    assert stats is not None and (stats.ready, stats.dlq) == (3, 0)


async def test_delete_removes_waiting_and_dead_jobs_but_not_inflight(storage: Storage) -> None:
    [dead] = await _dead_jobs(storage, 1)
    await insert(storage, new_job(2), new_job(3, eta_ms=T0 + 10_000))
    [inflight] = await lease(storage, max_jobs=1, now_ms=T0 + 2)
    for job in (dead, await storage.get(job_id(3))):
        assert (await storage.delete(job.id, now_ms=T0 + 3)).id == job.id
        with pytest.raises(JobNotFound):
            await storage.get(job.id)
    with pytest.raises(StateConflict):
        await storage.delete(inflight.id, now_ms=T0 + 3)
    assert await storage.get(inflight.id) == inflight
    with pytest.raises(JobNotFound):
        await storage.delete(job_id(99), now_ms=T0 + 3)
    assert await lease(storage, now_ms=T0 + 20_000) == []


async def test_purge_deletes_every_job_of_the_queue(storage: Storage) -> None:
    await _dead_jobs(storage, 1)
    await insert(storage, new_job(2), new_job(3), new_job(4, eta_ms=T0 + 10_000))
    await insert(storage, new_job(5), queue="other")
    await lease(storage, max_jobs=1, now_ms=T0 + 2)
    assert await storage.purge(QUEUE, now_ms=T0 + 3) == 4
    stats = await storage.stats(QUEUE, now_ms=T0 + 3)
    assert stats is not None and (stats.ready, stats.delayed, stats.inflight, stats.dlq) == (0, 0, 0, 0)
    assert stats.counters.enqueued_total == 4
    assert await storage.expired_leases(now_ms=T0 + 100_000, limit=10) == []
    assert await lease(storage, now_ms=T0 + 20_000) == []
    assert [j.id for j in await lease(storage, queue="other")] == [job_id(5)]


async def test_purge_dlq_deletes_only_dead_jobs(storage: Storage) -> None:
    await _dead_jobs(storage, 2)
    await insert(storage, new_job(5))
    assert await storage.purge_dlq(QUEUE, now_ms=T0 + 2) == 2
    stats = await storage.stats(QUEUE, now_ms=T0 + 2)
    assert stats is not None and (stats.ready, stats.dlq) == (1, 0)
    assert await storage.purge_dlq("nobody", now_ms=T0 + 2) == 0
