"""Ack, nack, retries with backoff, the dead letter queue, extend, lease checks."""

from __future__ import annotations

import pytest

from rivetq.clock import FakeClock
from rivetq.errors import InvalidArgument, JobNotFound, LeaseLost
from rivetq.manager import QueueManager
from rivetq.models import Job, JobState, RetryPolicy
from tests.manager.support import QUEUE, RecordingObserver, job


async def _leased(manager: QueueManager, *, max_retries: int = 3, visibility_ms: int = 30_000) -> Job:
    await manager.enqueue(QUEUE, job(max_retries=max_retries))
    [leased] = await manager.lease(QUEUE, visibility_ms=visibility_ms)
    return leased


async def _lease_again(manager: QueueManager, clock: FakeClock, job_id: str) -> Job:
    clock.set(max(clock.now_ms(), (await manager.get_job(job_id)).eta_ms))
    [leased] = await manager.lease(QUEUE)
    return leased


async def test_ack_removes_the_job(manager: QueueManager, observer: RecordingObserver) -> None:
    leased = await _leased(manager)
    await manager.ack(leased.id, leased.lease_id or "")
    assert (await manager.stats(QUEUE)).inflight == 0
    assert observer.counts[("acked", QUEUE)] == 1
    with pytest.raises(JobNotFound):  # an acked job is gone
        await manager.ack(leased.id, leased.lease_id or "")


async def test_ack_with_a_wrong_or_expired_lease_is_lease_lost(manager: QueueManager, clock: FakeClock) -> None:
    leased = await _leased(manager, visibility_ms=1000)
    with pytest.raises(LeaseLost):
        await manager.ack(leased.id, "someone-else")
    clock.advance(1000)
    with pytest.raises(LeaseLost):
        await manager.ack(leased.id, leased.lease_id or "")
    assert (await manager.get_job(leased.id)).state_at(clock.now_ms()) is JobState.INFLIGHT


async def test_ack_nack_and_extend_of_an_unknown_job_are_job_not_found(manager: QueueManager) -> None:
    unknown = "0190a000-0000-7000-8000-000000000000"
    with pytest.raises(JobNotFound):
        await manager.ack(unknown, "lease")
    with pytest.raises(JobNotFound):
        await manager.nack(unknown, "lease")
    with pytest.raises(JobNotFound):
        await manager.extend(unknown, "lease", visibility_ms=1000)


async def test_ack_batch_reports_each_ack(manager: QueueManager, observer: RecordingObserver) -> None:
    await manager.enqueue_batch(QUEUE, [job(), job()])
    first, second = await manager.lease(QUEUE, max_jobs=2)
    results = await manager.ack_batch([(first.id, first.lease_id or ""), (second.id, "wrong"), ("missing", "x")])
    assert [r.error_code for r in results] == [None, "lease_lost", "job_not_found"]
    assert observer.counts[("acked", QUEUE)] == 1


async def test_ack_batch_rejects_bad_entries_naming_them(manager: QueueManager) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await manager.ack_batch([("a", "b"), ("", "c")])
    assert caught.value.field == "acks[1].job_id"


async def test_nack_waits_an_equal_jitter_backoff(manager: QueueManager, clock: FakeClock) -> None:
    leased = await _leased(manager, max_retries=5)
    for tries, base in ((1, 1000), (2, 2000), (3, 4000)):
        now = clock.now_ms()
        assert await manager.nack(leased.id, leased.lease_id or "", reason=f"try {tries}") is JobState.DELAYED
        stored = await manager.get_job(leased.id)
        assert (stored.tries, stored.last_error) == (tries, f"try {tries}")
        assert now + base // 2 <= stored.eta_ms <= now + base
        leased = await _lease_again(manager, clock, leased.id)


async def test_nack_follows_the_queue_retry_policy(manager: QueueManager, clock: FakeClock) -> None:
    await manager.set_retry_policy(
        QUEUE, RetryPolicy(base_backoff_ms=100, multiplier=3, max_backoff_ms=500, jitter="none")
    )
    leased = await _leased(manager, max_retries=5)
    delays = []
    for _ in range(4):
        now = clock.now_ms()
        await manager.nack(leased.id, leased.lease_id or "")
        delays.append((await manager.get_job(leased.id)).eta_ms - now)
        leased = await _lease_again(manager, clock, leased.id)
    assert delays == [100, 300, 500, 500]


async def test_nack_delay_overrides_the_backoff(manager: QueueManager, clock: FakeClock) -> None:
    leased = await _leased(manager)
    assert await manager.nack(leased.id, leased.lease_id or "", delay_ms=0) is JobState.READY
    assert (await manager.get_job(leased.id)).eta_ms == clock.now_ms()
    leased = await _lease_again(manager, clock, leased.id)
    await manager.nack(leased.id, leased.lease_id or "", delay_ms=123_456)
    assert (await manager.get_job(leased.id)).eta_ms == clock.now_ms() + 123_456


async def test_job_runs_max_retries_plus_one_times_then_is_dead(
    manager: QueueManager, clock: FakeClock, observer: RecordingObserver
) -> None:
    leased = await _leased(manager, max_retries=2)
    states = []
    for attempt in range(3):
        states.append(await manager.nack(leased.id, leased.lease_id or "", reason=f"failure {attempt}"))
        if attempt < 2:
            leased = await _lease_again(manager, clock, leased.id)
    assert states == [JobState.DELAYED, JobState.DELAYED, JobState.DEAD]
    dead = await manager.get_job(leased.id)
    assert (dead.tries, dead.last_error) == (3, "failure 2")
    clock.advance(86_400_000)
    assert await manager.lease(QUEUE) == []
    page = await manager.list_dlq(QUEUE, limit=10, cursor=None)
    assert [j.id for j in page.jobs] == [leased.id]
    assert (observer.counts[("nacked", QUEUE)], observer.counts[("dead", QUEUE)]) == (3, 1)


async def test_nack_with_a_wrong_lease_is_lease_lost_and_changes_nothing(manager: QueueManager) -> None:
    leased = await _leased(manager)
    with pytest.raises(LeaseLost):
        await manager.nack(leased.id, "wrong")
    assert await manager.get_job(leased.id) == leased


async def test_nack_rejects_negative_delay(manager: QueueManager) -> None:
    leased = await _leased(manager)
    with pytest.raises(InvalidArgument) as caught:
        await manager.nack(leased.id, leased.lease_id or "", delay_ms=-1)
    assert caught.value.field == "delay_ms"


async def test_extend_sets_a_new_visibility_from_now(manager: QueueManager, clock: FakeClock) -> None:
    leased = await _leased(manager, visibility_ms=1000)
    clock.advance(900)
    assert await manager.extend(leased.id, leased.lease_id or "", visibility_ms=5000) == clock.now_ms() + 5000
    clock.advance(4999)
    await manager.reap_expired_leases()
    await manager.ack(leased.id, leased.lease_id or "")


async def test_extend_of_an_expired_lease_is_lease_lost(manager: QueueManager, clock: FakeClock) -> None:
    leased = await _leased(manager, visibility_ms=1000)
    clock.advance(1000)
    with pytest.raises(LeaseLost):
        await manager.extend(leased.id, leased.lease_id or "", visibility_ms=5000)


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        (RetryPolicy(base_backoff_ms=-1), "base_backoff_ms"),
        (RetryPolicy(multiplier=0.5), "multiplier"),
        (RetryPolicy(jitter="sometimes"), "jitter"),
    ],
)
async def test_retry_policy_rejects_bad_values(manager: QueueManager, policy: RetryPolicy, field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await manager.set_retry_policy(QUEUE, policy)
    assert caught.value.field == field
