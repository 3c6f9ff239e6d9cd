"""Single-job calls made together run as one storage call, and each caller still gets
exactly what its own call would have returned."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence

import pytest

from rivetq.errors import JobNotFound, LeaseLost
from rivetq.manager import QueueManager
from rivetq.models import AckResult, InsertResult, Job, LeaseResult, NewJob, RateLimit
from rivetq.storage.memory import MemoryStorage
from tests.manager.support import QUEUE, job


class CountingStorage(MemoryStorage):
    """Counts the storage calls the manager makes."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    async def insert(
        self, queue: str, jobs: Sequence[NewJob], *, now_ms: int, dedup_window_ms: int
    ) -> list[InsertResult]:
        self.calls["insert"] += 1
        return await super().insert(queue, jobs, now_ms=now_ms, dedup_window_ms=dedup_window_ms)

    async def lease(
        self, queue: str, *, max_jobs: int, visibility_ms: int, now_ms: int, new_lease_id: Callable[[], str]
    ) -> LeaseResult:
        self.calls["lease"] += 1
        return await super().lease(
            queue, max_jobs=max_jobs, visibility_ms=visibility_ms, now_ms=now_ms, new_lease_id=new_lease_id
        )

    async def ack_batch(self, acks: Sequence[tuple[str, str]], *, now_ms: int) -> list[AckResult]:
        self.calls["ack_batch"] += 1
        return await super().ack_batch(acks, now_ms=now_ms)


@pytest.fixture
def storage() -> CountingStorage:
    return CountingStorage()


async def test_enqueues_made_together_are_one_insert(manager: QueueManager, storage: CountingStorage) -> None:
    keyed = [job(b"1", idempotency_key="k"), job(b"2"), job(b"3", idempotency_key="k"), job(b"4")]
    results = await asyncio.gather(*(manager.enqueue(QUEUE, request) for request in keyed))
    assert storage.calls["insert"] == 1
    assert [result.duplicate for result in results] == [False, False, True, False]
    assert results[2].job_id == results[0].job_id  # the key's first job, as in sequence
    assert (await manager.stats(QUEUE)).ready == 3


async def _lease_together(manager: QueueManager, callers: int) -> list[list[Job]]:
    return await asyncio.gather(*(manager.lease(QUEUE, visibility_ms=60_000) for _ in range(callers)))


async def test_leases_made_together_are_one_lease_sharing_the_jobs_out(
    manager: QueueManager, storage: CountingStorage
) -> None:
    enqueued = [(await manager.enqueue(QUEUE, job(str(n).encode(), priority=n))).job_id for n in range(5)]
    shares = await _lease_together(manager, 8)
    assert storage.calls["lease"] == 1
    assert [len(share) for share in shares] == [1] * 5 + [0] * 3
    assert [share[0].id for share in shares[:5]] == enqueued[::-1]  # in service order: priority 4 first
    assert all(share[0].lease_id for share in shares[:5])


async def test_leases_made_together_respect_the_rate_limit_as_a_whole(manager: QueueManager) -> None:
    await manager.enqueue_batch(QUEUE, [job(str(n).encode()) for n in range(5)])
    await manager.set_rate_limit(QUEUE, RateLimit(capacity=2, refill_rate=0.001))
    shares = await _lease_together(manager, 4)
    assert [len(share) for share in shares] == [1, 1, 0, 0]


async def test_acks_made_together_are_one_batch_failing_only_where_a_single_ack_would(
    manager: QueueManager, storage: CountingStorage
) -> None:
    await manager.enqueue_batch(QUEUE, [job(str(n).encode()) for n in range(3)])
    leased = await manager.lease(QUEUE, max_jobs=3, visibility_ms=60_000)
    good, stale, other = leased
    acks = [
        manager.ack(good.id, good.lease_id or ""),
        manager.ack(stale.id, "L-not-the-lease"),
        manager.ack("j-unknown", "L-any"),
        manager.ack(other.id, other.lease_id or ""),
    ]
    outcomes = await asyncio.gather(*acks, return_exceptions=True)
    assert storage.calls["ack_batch"] == 1
    assert outcomes[0] is None and outcomes[3] is None
    assert isinstance(outcomes[1], LeaseLost)
    assert str(outcomes[1]) == f"job {stale.id} is not leased with lease L-not-the-lease"
    assert isinstance(outcomes[2], JobNotFound) and str(outcomes[2]) == "job j-unknown not found"
    stats = await manager.stats(QUEUE)
    assert (stats.inflight, stats.counters.acked_total) == (1, 2)


async def test_a_joined_call_holds_no_more_jobs_than_one_api_call_may(
    manager: QueueManager, storage: CountingStorage
) -> None:
    batch = [job(b"1")] * 600
    results = await asyncio.gather(*(manager.enqueue_batch(QUEUE, batch) for _ in range(3)))
    assert [len(result) for result in results] == [600] * 3
    assert storage.calls["insert"] == 3  # 600 + 600 would pass MAX_BATCH (1000)
    assert (await manager.stats(QUEUE)).ready == 1800
