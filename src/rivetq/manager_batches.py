"""The storage calls the manager makes for every single-job request (insert, lease,
ack), each joined with the same calls of its event-loop pass (``PassBatches``): one
insert per queue, one lease per queue and visibility, one ``ack_batch``. Each caller
gets what its own call would have returned: its own jobs' results, its share of the
leased jobs, its own acks' outcomes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from rivetq.models import AckResult, InsertResult, LeaseResult, NewJob
from rivetq.pass_batches import PassBatches, split_runs
from rivetq.storage.base import Storage
from rivetq.wire import MAX_BATCH

__all__ = ["JoinedStorageCalls"]

_Insert = tuple[Sequence[NewJob], int]  # jobs, now_ms
_Lease = tuple[int, int]  # max_jobs, now_ms
_Acks = tuple[Sequence[tuple[str, str]], int]  # (job_id, lease_id) pairs, now_ms


class JoinedStorageCalls:
    def __init__(self, storage: Storage, *, dedup_window_ms: int, new_lease_id: Callable[[], str]) -> None:
        self._storage = storage
        self._dedup_window_ms = dedup_window_ms
        self._new_lease_id = new_lease_id
        # A joined call holds at most what one API call may (MAX_BATCH jobs), so no
        # transaction or log record grows past the sizes the engine already serves.
        self._inserts: PassBatches[str, _Insert, list[InsertResult]] = PassBatches(
            self._insert_all, self._insert, weight=lambda item: len(item[0]), max_weight=MAX_BATCH
        )
        self._leases: PassBatches[tuple[str, int], _Lease, LeaseResult] = PassBatches(
            self._lease_all, self._lease, weight=lambda item: item[0], max_weight=MAX_BATCH
        )
        self._acks: PassBatches[None, _Acks, list[AckResult]] = PassBatches(
            self._ack_all, self._ack, weight=lambda item: len(item[0]), max_weight=MAX_BATCH
        )

    def insert(self, queue: str, jobs: Sequence[NewJob], *, now_ms: int) -> Awaitable[list[InsertResult]]:
        return self._inserts.submit(queue, (jobs, now_ms))

    def lease(self, queue: str, *, max_jobs: int, visibility_ms: int, now_ms: int) -> Awaitable[LeaseResult]:
        return self._leases.submit((queue, visibility_ms), (max_jobs, now_ms))

    def ack_batch(self, acks: Sequence[tuple[str, str]], *, now_ms: int) -> Awaitable[list[AckResult]]:
        return self._acks.submit(None, (acks, now_ms))

    async def ack(self, job_id: str, lease_id: str, *, now_ms: int) -> str:
        """The acked job's queue; the error the ack met is raised."""
        (result,) = await self.ack_batch([(job_id, lease_id)], now_ms=now_ms)
        if result.queue is None:
            raise result.failure()
        return result.queue

    async def _insert(self, queue: str, item: _Insert) -> list[InsertResult]:
        jobs, now_ms = item
        return await self._storage.insert(queue, jobs, now_ms=now_ms, dedup_window_ms=self._dedup_window_ms)

    async def _insert_all(self, queue: str, items: list[_Insert]) -> list[list[InsertResult]]:
        jobs = [job for batch, _ in items for job in batch]
        now_ms = max(now_ms for _, now_ms in items)
        results = await self._storage.insert(queue, jobs, now_ms=now_ms, dedup_window_ms=self._dedup_window_ms)
        return split_runs(results, [len(batch) for batch, _ in items])

    async def _lease(self, key: tuple[str, int], item: _Lease) -> LeaseResult:
        (queue, visibility_ms), (max_jobs, now_ms) = key, item
        return await self._storage.lease(
            queue, max_jobs=max_jobs, visibility_ms=visibility_ms, now_ms=now_ms, new_lease_id=self._new_lease_id
        )

    async def _lease_all(self, key: tuple[str, int], items: list[_Lease]) -> list[LeaseResult]:
        wanted_each = [max_jobs for max_jobs, _ in items]
        now_ms = max(now_ms for _, now_ms in items)
        result = await self._lease(key, (sum(wanted_each), now_ms))
        shares: list[LeaseResult] = []
        for max_jobs, jobs in zip(wanted_each, split_runs(result.jobs, wanted_each), strict=True):
            short = len(jobs) < max_jobs  # the limits that held the whole call back held this one back
            shares.append(
                LeaseResult(
                    jobs=jobs,
                    rate_limited=short and result.rate_limited,
                    concurrency_limited=short and result.concurrency_limited,
                )
            )
        return shares

    async def _ack(self, _: None, item: _Acks) -> list[AckResult]:
        acks, now_ms = item
        return await self._storage.ack_batch(acks, now_ms=now_ms)

    async def _ack_all(self, _: None, items: list[_Acks]) -> list[list[AckResult]]:
        now_ms = max(now_ms for _, now_ms in items)
        results = await self._storage.ack_batch([ack for acks, _ in items for ack in acks], now_ms=now_ms)
        return split_runs(results, [len(acks) for acks, _ in items])
