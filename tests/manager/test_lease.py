"""Lease: service order, delays, lease validity and expiry, rate limits, pause."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from rivetq.clock import FakeClock
from rivetq.errors import InvalidArgument, StorageUnavailable
from rivetq.manager import ManagerOptions, QueueManager
from rivetq.models import AckResult, JobState, RateLimit
from rivetq.storage.local import LocalOptions, LocalStorage
from rivetq.storage.memory import MemoryStorage
from rivetq.wire import MIN_REFILL_RATE
from tests.manager.support import QUEUE, RecordingObserver, job


async def _enqueue(
    manager: QueueManager, payload: bytes, *, priority: int = 5, delay_ms: int | None = None, max_retries: int = 3
) -> str:
    request = job(payload, priority=priority, delay_ms=delay_ms, max_retries=max_retries)
    return (await manager.enqueue(QUEUE, request)).job_id


async def test_lease_serves_highest_priority_then_earliest_eta_then_enqueue_order(
    manager: QueueManager, clock: FakeClock
) -> None:
    low = await _enqueue(manager, b"1", priority=1)
    later = await _enqueue(manager, b"2", priority=5, delay_ms=10)
    first_five = await _enqueue(manager, b"3", priority=5)
    second_five = await _enqueue(manager, b"4", priority=5)
    top = await _enqueue(manager, b"5", priority=9)
    clock.advance(10)
    jobs = await manager.lease(QUEUE, max_jobs=10)
    assert [j.id for j in jobs] == [top, first_five, second_five, later, low]


async def test_lease_hands_out_at_most_max_jobs_with_fresh_leases(manager: QueueManager, clock: FakeClock) -> None:
    await manager.enqueue_batch(QUEUE, [job() for _ in range(5)])
    jobs = await manager.lease(QUEUE, max_jobs=3, visibility_ms=5000)
    assert len(jobs) == 3
    assert len({j.lease_id for j in jobs}) == 3
    assert {j.lease_expires_at_ms for j in jobs} == {clock.now_ms() + 5000}
    assert len(await manager.lease(QUEUE, max_jobs=3)) == 2


async def test_lease_of_unknown_queue_is_empty(manager: QueueManager) -> None:
    assert await manager.lease("nobody") == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_jobs": 0}, "max_jobs"),
        ({"max_jobs": 1001}, "max_jobs"),
        ({"visibility_ms": 0}, "visibility_ms"),
        ({"visibility_ms": 43_200_001}, "visibility_ms"),
        ({"wait_ms": -1}, "wait_ms"),
        ({"wait_ms": 20_001}, "wait_ms"),
    ],
)
async def test_lease_rejects_out_of_range_arguments(manager: QueueManager, kwargs: dict[str, int], field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await manager.lease(QUEUE, **kwargs)
    assert caught.value.field == field


async def test_delayed_job_is_leased_only_from_its_eta(manager: QueueManager, clock: FakeClock) -> None:
    job_id = await _enqueue(manager, b"1", delay_ms=2000)
    clock.advance(1999)
    assert await manager.lease(QUEUE) == []
    clock.advance(1)
    assert [j.id for j in await manager.lease(QUEUE)] == [job_id]


async def test_run_at_in_the_future_delays_the_job(manager: QueueManager, clock: FakeClock) -> None:
    clock.set(1_893_553_444_000)
    await manager.enqueue(QUEUE, job(run_at="2030-01-02T03:04:05Z"))
    assert await manager.lease(QUEUE) == []
    clock.set(1_893_553_445_000)
    assert len(await manager.lease(QUEUE)) == 1


async def test_leased_job_is_not_leased_again_before_expiry(manager: QueueManager, clock: FakeClock) -> None:
    await _enqueue(manager, b"1")
    await manager.lease(QUEUE, visibility_ms=1000)
    clock.advance(999)
    await manager.reap_expired_leases()
    assert await manager.lease(QUEUE) == []


async def test_expired_lease_is_a_failed_attempt(
    manager: QueueManager, clock: FakeClock, observer: RecordingObserver
) -> None:
    job_id = await _enqueue(manager, b"1")
    [leased] = await manager.lease(QUEUE, visibility_ms=1000)
    clock.advance(1000)
    assert await manager.reap_expired_leases() == 1
    stored = await manager.get_job(job_id)
    assert (stored.tries, stored.last_error, stored.lease_id) == (1, "lease expired", None)
    assert clock.now_ms() + 500 <= stored.eta_ms <= clock.now_ms() + 1000
    assert observer.counts[("expired", QUEUE)] == 1
    assert observer.counts[("nacked", QUEUE)] == 0
    clock.set(stored.eta_ms)
    [again] = await manager.lease(QUEUE)
    assert again.tries == 1 and again.lease_id != leased.lease_id


async def test_expired_last_attempt_goes_to_the_dlq(
    manager: QueueManager, clock: FakeClock, observer: RecordingObserver
) -> None:
    job_id = await _enqueue(manager, b"1", max_retries=0)
    await manager.lease(QUEUE, visibility_ms=1000)
    clock.advance(1000)
    await manager.reap_expired_leases()
    stored = await manager.get_job(job_id)
    assert stored.state_at(clock.now_ms()) is JobState.DEAD
    assert (stored.tries, stored.last_error) == (1, "lease expired")
    assert observer.counts[("dead", QUEUE)] == 1


async def test_reaper_handles_more_than_one_batch(storage: MemoryStorage, clock: FakeClock) -> None:
    manager = QueueManager(storage, clock=clock, options=ManagerOptions(reaper_batch=2))
    await manager.enqueue_batch(QUEUE, [job() for _ in range(5)])
    await manager.lease(QUEUE, max_jobs=5, visibility_ms=10)
    clock.advance(10)
    moved = [await manager.reap_expired_leases() for _ in range(4)]
    assert moved == [2, 2, 1, 0]


async def test_rate_limit_cuts_leases_and_is_observed(
    manager: QueueManager, clock: FakeClock, observer: RecordingObserver
) -> None:
    await manager.set_rate_limit(QUEUE, RateLimit(capacity=2, refill_rate=1))
    await manager.enqueue_batch(QUEUE, [job() for _ in range(5)])
    assert len(await manager.lease(QUEUE, max_jobs=5)) == 2
    assert await manager.lease(QUEUE, max_jobs=5) == []
    assert observer.counts[("rate_limited", QUEUE)] == 2
    clock.advance(1000)
    assert len(await manager.lease(QUEUE, max_jobs=5)) == 1
    await manager.delete_rate_limit(QUEUE)
    assert len(await manager.lease(QUEUE, max_jobs=5)) == 2


async def test_rate_limit_round_trips(manager: QueueManager) -> None:
    assert await manager.get_rate_limit(QUEUE) is None
    await manager.set_rate_limit(QUEUE, RateLimit(capacity=10, refill_rate=2.5))
    assert await manager.get_rate_limit(QUEUE) == RateLimit(capacity=10, refill_rate=2.5)
    await manager.delete_rate_limit(QUEUE)
    assert await manager.get_rate_limit(QUEUE) is None


@pytest.mark.parametrize(
    ("limit", "field"),
    [
        (RateLimit(capacity=0, refill_rate=1), "capacity"),
        (RateLimit(capacity=0.5, refill_rate=1), "capacity"),  # a job takes a whole token: it would never run
        (RateLimit(capacity=1, refill_rate=-1), "refill_rate"),
        (RateLimit(capacity=1, refill_rate=0), "refill_rate"),
        (RateLimit(capacity=1, refill_rate=1e-306), "refill_rate"),  # a token would take forever
        (RateLimit(capacity=float("inf"), refill_rate=1), "capacity"),
    ],
)
async def test_rate_limit_rejects_bad_values(manager: QueueManager, limit: RateLimit, field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await manager.set_rate_limit(QUEUE, limit)
    assert caught.value.field == field


async def test_rate_limit_takes_the_slowest_refill_rate_it_states(manager: QueueManager) -> None:
    await manager.set_rate_limit(QUEUE, RateLimit(capacity=1, refill_rate=MIN_REFILL_RATE))
    assert await manager.get_rate_limit(QUEUE) == RateLimit(capacity=1, refill_rate=MIN_REFILL_RATE)


async def test_paused_queue_leases_nothing_until_resumed(manager: QueueManager) -> None:
    await _enqueue(manager, b"1")
    await manager.pause(QUEUE)
    assert await manager.lease(QUEUE) == []
    assert (await manager.stats(QUEUE)).config.paused is True
    await manager.enqueue(QUEUE, job())
    await manager.resume(QUEUE)
    assert len(await manager.lease(QUEUE, max_jobs=5)) == 2


async def test_pause_keeps_the_rate_limit(manager: QueueManager) -> None:
    await manager.set_rate_limit(QUEUE, RateLimit(capacity=3, refill_rate=1))
    await manager.pause(QUEUE)
    await manager.resume(QUEUE)
    assert await manager.get_rate_limit(QUEUE) == RateLimit(capacity=3, refill_rate=1)


async def test_ack_and_lease_acks_and_leases_in_one_fsync_on_the_embedded_engine(
    tmp_path: Path, clock: FakeClock, observer: RecordingObserver
) -> None:
    fsyncs: list[float] = []
    storage = LocalStorage(LocalOptions(data_dir=tmp_path, on_fsync=fsyncs.append))
    options = ManagerOptions(lease_check_interval_ms=3_600_000, max_payload_bytes=1024)
    manager = QueueManager(storage, clock=clock, options=options, observer=observer)
    await storage.open()
    await manager.start()
    try:
        done_id, next_id = [r.job_id for r in await manager.enqueue_batch(QUEUE, [job(b"1"), job(b"2")])]
        [done] = await manager.lease(QUEUE)
        before = len(fsyncs)
        acks, jobs = await manager.ack_and_lease([(done.id, done.lease_id or "")], QUEUE, max_jobs=5)
        assert len(fsyncs) == before + 1
        assert [(a.job_id, a.error) for a in acks] == [(done_id, None)]
        assert [j.id for j in jobs] == [next_id]
    finally:
        await manager.stop()
        await storage.close()


async def test_ack_and_lease_acks_each_on_its_own_and_leases(manager: QueueManager) -> None:
    first, second, third = [await _enqueue(manager, bytes(str(n), "ascii")) for n in range(3)]
    [done] = await manager.lease(QUEUE)
    acks, jobs = await manager.ack_and_lease([(done.id, done.lease_id or ""), (second, "stale")], QUEUE, max_jobs=5)
    assert [(a.job_id, a.error_code) for a in acks] == [(first, None), (second, "lease_lost")]
    assert [j.id for j in jobs] == [second, third]
    stats = await manager.stats(QUEUE)
    assert (stats.ready, stats.inflight, stats.counters.acked_total) == (0, 2, 1)


async def test_ack_and_lease_with_a_bad_argument_changes_nothing(manager: QueueManager) -> None:
    await _enqueue(manager, b"1")
    await _enqueue(manager, b"2")
    [done] = await manager.lease(QUEUE)
    with pytest.raises(InvalidArgument, match="max_jobs"):
        await manager.ack_and_lease([(done.id, done.lease_id or "")], QUEUE, max_jobs=0)
    with pytest.raises(InvalidArgument, match=r"acks\[1\].lease_id"):
        await manager.ack_and_lease([(done.id, done.lease_id or ""), (done.id, "")], QUEUE)
    stats = await manager.stats(QUEUE)
    assert (stats.ready, stats.inflight) == (1, 1)


class _AcksFailStorage(MemoryStorage):
    """Its ack transaction fails (as a lost PostgreSQL connection would) while leases work."""

    async def ack_batch(self, acks: Sequence[tuple[str, str]], *, now_ms: int) -> list[AckResult]:
        raise StorageUnavailable("the database went away")


async def test_ack_and_lease_whose_acks_fail_alone_still_hands_out_the_jobs(
    clock: FakeClock, observer: RecordingObserver
) -> None:
    manager = QueueManager(_AcksFailStorage(), clock=clock, observer=observer)
    await manager.start()
    try:
        done_id, next_id = [r.job_id for r in await manager.enqueue_batch(QUEUE, [job(b"1"), job(b"2")])]
        [done] = await manager.lease(QUEUE)
        acks, jobs = await manager.ack_and_lease([(done.id, done.lease_id or "")], QUEUE, max_jobs=5)
        assert acks == [AckResult(done_id, error="the database went away", error_code="storage_unavailable")]
        assert [j.id for j in jobs] == [next_id]
        assert (await manager.stats(QUEUE)).inflight == 2
    finally:
        await manager.stop()
