"""The in-memory reference backend: exact semantics of ``Storage``, no durability.

Used by unit tests and by ``storage.backend: memory`` benchmarks, so every hot call is
O(log n) (see ``memory_index``). Each method runs without awaiting, so it is atomic on
the event loop.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import msgspec

from rivetq.errors import JobNotFound, LeaseLost, QueueNotFound, RivetQError, StateConflict
from rivetq.models import (
    AckResult,
    BackupResult,
    InsertResult,
    Job,
    JobPage,
    JobState,
    LeaseResult,
    NewJob,
    QueueConfig,
    QueueCounters,
    QueueStats,
    StoredState,
)
from rivetq.ratelimit import TokenBucket
from rivetq.storage.base import WakeupCallback, inflight_refusal
from rivetq.storage.memory_index import QueueIndex
from rivetq.storage.schedule_book import ScheduleBook

__all__ = ["MemoryStorage"]

_replace = msgspec.structs.replace


@dataclass
class _Queue:
    """Jobs, counters and config of one queue."""

    index: QueueIndex
    config: QueueConfig = field(default_factory=QueueConfig)
    bucket: TokenBucket | None = None
    keys: dict[str, tuple[str, int]] = field(default_factory=dict)  # key -> (job id, recorded at), oldest first
    enqueued: int = 0
    leased: int = 0
    acked: int = 0
    nacked: int = 0


class MemoryStorage(ScheduleBook):
    """``Storage`` kept in process memory; ``open``/``close`` do nothing."""

    def __init__(self) -> None:
        super().__init__()
        self._jobs: dict[str, Job] = {}
        self._queues: dict[str, _Queue] = {}
        self._leases: list[tuple[int, str, str]] = []  # (expires at, job id, lease id)
        self._seq = 0
        self._wakeup: WakeupCallback | None = None

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def set_wakeup(self, callback: WakeupCallback) -> None:
        # Only this process changes a memory store, so the callback is never needed.
        self._wakeup = callback

    def gauges(self) -> dict[str, float]:
        return {}

    def unavailable_reason(self) -> str | None:
        return None

    def notices(self) -> list[str]:
        return []

    async def backup(self, dest: str) -> BackupResult:
        raise StateConflict("the memory storage backend keeps nothing to back up")

    # -- writes ---------------------------------------------------------------

    async def insert(
        self, queue: str, jobs: Sequence[NewJob], *, now_ms: int, dedup_window_ms: int
    ) -> list[InsertResult]:
        q = self._queue(queue)
        self._forget_keys(q, now_ms - dedup_window_ms)
        plan = self._plan_insert(q, jobs, now_ms - dedup_window_ms)
        for new, result in zip(jobs, plan, strict=True):
            if not result.duplicate:
                self._add(queue, q, new, now_ms)
        return plan

    async def lease(
        self,
        queue: str,
        *,
        max_jobs: int,
        visibility_ms: int,
        now_ms: int,
        new_lease_id: Callable[[], str],
    ) -> LeaseResult:
        q = self._queues.get(queue)
        if q is None or q.config.paused:
            return LeaseResult(jobs=[], rate_limited=False)
        cap = q.config.lease_cap(max_jobs, len(q.index.inflight))
        limit = q.config.rate_limit
        if limit is None:
            picked = q.index.pop_ready(cap, now_ms)
            held_back = False
        else:
            granted, bucket = self._bucket(q, now_ms).take(limit, cap, now_ms)
            picked = q.index.pop_ready(granted, now_ms)
            q.bucket = bucket.give_back(limit, granted - len(picked))
            held_back = len(picked) == granted < cap and q.index.has_ready(now_ms)
        expires = now_ms + visibility_ms
        leased = [self._lease_one(q, job, new_lease_id(), expires) for job in picked]
        q.leased += len(leased)
        capped = len(picked) == cap < max_jobs and q.index.has_ready(now_ms)
        return LeaseResult(jobs=leased, rate_limited=held_back, concurrency_limited=capped)

    async def ack(self, job_id: str, lease_id: str, *, now_ms: int) -> str:
        job = self._live_lease(job_id, lease_id, now_ms)
        q = self._queues[job.queue]
        q.index.remove(job)
        q.acked += 1
        return job.queue

    async def ack_batch(self, acks: Sequence[tuple[str, str]], *, now_ms: int) -> list[AckResult]:
        results: list[AckResult] = []
        for job_id, lease_id in acks:
            try:
                queue = await self.ack(job_id, lease_id, now_ms=now_ms)
            except RivetQError as error:
                results.append(AckResult(job_id=job_id, error=error.message, error_code=error.code))
            else:
                results.append(AckResult(job_id=job_id, queue=queue))
        return results

    async def extend(self, job_id: str, lease_id: str, *, expires_at_ms: int, now_ms: int) -> Job:
        current = self._live_lease(job_id, lease_id, now_ms)
        job = _replace(current, lease_expires_at_ms=expires_at_ms)
        self._jobs[job_id] = job
        if current.lease_expires_at_ms != expires_at_ms:
            heapq.heappush(self._leases, (expires_at_ms, job_id, lease_id))
        return job

    async def retry(
        self, job_id: str, lease_id: str, *, eta_ms: int, error: str | None, now_ms: int, expired: bool = False
    ) -> Job:
        job = self._failed_attempt(job_id, lease_id, now_ms, expired=expired)
        job = _replace(job, state=StoredState.WAITING, eta_ms=eta_ms, last_error=error)
        self._queues[job.queue].index.put(job)
        return job

    async def bury(self, job_id: str, lease_id: str, *, error: str | None, now_ms: int, expired: bool = False) -> Job:
        job = self._failed_attempt(job_id, lease_id, now_ms, expired=expired)
        job = _replace(job, state=StoredState.DEAD, last_error=error)
        self._queues[job.queue].index.put(job)
        return job

    async def requeue(self, queue: str, job_ids: Sequence[str] | None, *, now_ms: int) -> int:
        q = self._queues.get(queue)
        if q is None:
            return 0
        dead = q.index.dead
        chosen = list(dead) if job_ids is None else [i for i in dict.fromkeys(job_ids) if i in dead]
        for job_id in chosen:
            job = self._jobs[job_id]
            q.index.remove(job)
            q.index.put(_replace(job, state=StoredState.WAITING, tries=0, eta_ms=now_ms))
        return len(chosen)

    async def delete(self, job_id: str, *, now_ms: int) -> Job:
        job = await self.get(job_id)
        if job.state is StoredState.INFLIGHT:
            raise StateConflict(f"job {job_id} is inflight")
        self._queues[job.queue].index.remove(job)
        return job

    async def purge(self, queue: str, *, now_ms: int) -> int:
        q = self._queues.get(queue)
        if q is None:
            return 0
        return q.index.clear((StoredState.WAITING, StoredState.INFLIGHT, StoredState.DEAD))

    async def purge_dlq(self, queue: str, *, now_ms: int) -> int:
        q = self._queues.get(queue)
        return 0 if q is None else q.index.clear((StoredState.DEAD,))

    async def delete_queue(self, queue: str, *, force: bool, now_ms: int) -> int:
        q = self._queues.get(queue)
        if q is None:
            raise QueueNotFound(f"queue {queue} not found")
        if q.index.inflight and not force:
            raise StateConflict(inflight_refusal(queue, len(q.index.inflight)))
        del self._queues[queue]
        return q.index.clear((StoredState.WAITING, StoredState.INFLIGHT, StoredState.DEAD))

    async def update_queue_config(
        self, queue: str, change: Callable[[QueueConfig], QueueConfig], *, now_ms: int
    ) -> None:
        q = self._queue(queue)
        config = change(q.config)
        if config.rate_limit is None:
            q.bucket = None
        elif config.rate_limit != q.config.rate_limit or q.bucket is None:
            q.bucket = TokenBucket.full(config.rate_limit, now_ms)
        q.config = config

    # -- reads ----------------------------------------------------------------

    async def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(f"job {job_id} not found")
        return job

    async def get_queue_config(self, queue: str) -> QueueConfig:
        q = self._queues.get(queue)
        return QueueConfig() if q is None else q.config

    async def stats(self, queue: str, *, now_ms: int) -> QueueStats | None:
        q = self._queues.get(queue)
        return None if q is None else self._stats(queue, q, now_ms)

    async def list_queues(self, *, now_ms: int) -> list[QueueStats]:
        return [self._stats(name, self._queues[name], now_ms) for name in sorted(self._queues)]

    async def list_jobs(
        self, queue: str, *, state: JobState | None, limit: int, cursor: str | None, now_ms: int
    ) -> JobPage:
        q = self._queues.get(queue)
        if q is None:
            return JobPage(jobs=[], next_cursor=None)
        after = cursor or ""
        ids = (i for i in q.index.ids() if i > after)
        if state is not None:
            ids = (i for i in ids if self._jobs[i].state_at(now_ms) is state)
        page = heapq.nsmallest(limit + 1, ids)
        jobs = [self._jobs[i] for i in page[:limit]]
        return JobPage(jobs=jobs, next_cursor=jobs[-1].id if len(page) > limit else None)

    async def expired_leases(self, *, now_ms: int, limit: int) -> list[Job]:
        found: list[tuple[int, str, str]] = []
        while self._leases and self._leases[0][0] <= now_ms and len(found) < limit:
            entry = heapq.heappop(self._leases)
            # An extend back to an earlier expiry leaves two equal live entries: keep one.
            if self._lease_entry_live(entry) and (not found or found[-1] != entry):
                found.append(entry)
        for entry in found:
            heapq.heappush(self._leases, entry)
        return [self._jobs[job_id] for _, job_id, _ in found]

    async def next_eta_ms(self, queue: str, *, now_ms: int) -> int | None:
        q = self._queues.get(queue)
        return None if q is None else q.index.next_eta_ms(now_ms)

    # -- internals --------------------------------------------------------------

    def _queue(self, name: str) -> _Queue:
        q = self._queues.get(name)
        if q is None:
            q = self._queues[name] = _Queue(index=QueueIndex(self._jobs))
        return q

    def _plan_insert(self, q: _Queue, jobs: Sequence[NewJob], since_ms: int) -> list[InsertResult]:
        """Decide every result before changing anything, so a refused batch changes nothing."""
        batch_ids: set[str] = set()
        batch_keys: dict[str, str] = {}
        plan: list[InsertResult] = []
        for new in jobs:
            if new.id in self._jobs or new.id in batch_ids:
                raise StateConflict(f"job {new.id} already exists")
            key = new.idempotency_key
            first = None if key is None else batch_keys.get(key) or self._first_with_key(q, key, since_ms)
            if first is not None:
                plan.append(InsertResult(job_id=first, duplicate=True))
                continue
            batch_ids.add(new.id)
            if key is not None:
                batch_keys[key] = new.id
            plan.append(InsertResult(job_id=new.id, duplicate=False))
        return plan

    @staticmethod
    def _first_with_key(q: _Queue, key: str, since_ms: int) -> str | None:
        recorded = q.keys.get(key)
        return recorded[0] if recorded is not None and recorded[1] > since_ms else None

    @staticmethod
    def _forget_keys(q: _Queue, since_ms: int) -> None:
        while q.keys:
            key, (_, recorded_ms) = next(iter(q.keys.items()))
            if recorded_ms > since_ms:
                return
            del q.keys[key]

    def _add(self, queue: str, q: _Queue, new: NewJob, now_ms: int) -> None:
        self._seq += 1
        job = Job(
            id=new.id,
            queue=queue,
            payload=new.payload,
            priority=new.priority,
            eta_ms=new.eta_ms,
            max_retries=new.max_retries,
            tries=0,
            created_at_ms=now_ms,
            seq=self._seq,
            state=StoredState.WAITING,
            idempotency_key=new.idempotency_key,
            headers=new.headers,
        )
        q.index.put(job)
        q.enqueued += 1
        if new.idempotency_key is not None:
            q.keys.pop(new.idempotency_key, None)
            q.keys[new.idempotency_key] = (new.id, now_ms)

    def _bucket(self, q: _Queue, now_ms: int) -> TokenBucket:
        if q.bucket is None and q.config.rate_limit is not None:
            q.bucket = TokenBucket.full(q.config.rate_limit, now_ms)
        assert q.bucket is not None
        return q.bucket

    def _lease_one(self, q: _Queue, job: Job, lease_id: str, expires_at_ms: int) -> Job:
        leased = _replace(job, state=StoredState.INFLIGHT, lease_id=lease_id, lease_expires_at_ms=expires_at_ms)
        q.index.put(leased)
        heapq.heappush(self._leases, (expires_at_ms, job.id, lease_id))
        return leased

    def _live_lease(self, job_id: str, lease_id: str, now_ms: int) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(f"job {job_id} not found")
        if job.state is not StoredState.INFLIGHT or job.lease_id != lease_id:
            raise LeaseLost(f"job {job_id} is not leased with lease {lease_id}")
        if job.lease_expires_at_ms is None or now_ms >= job.lease_expires_at_ms:
            raise LeaseLost(f"the lease {lease_id} of job {job_id} expired")
        return job

    def _failed_attempt(self, job_id: str, lease_id: str, now_ms: int, *, expired: bool) -> Job:
        """Check the lease rule of ``retry``/``bury``, count the attempt, unlease the job."""
        if expired:
            job = self._jobs.get(job_id)
            due = job is not None and job.lease_expires_at_ms is not None and job.lease_expires_at_ms <= now_ms
            if job is None or job.state is not StoredState.INFLIGHT or job.lease_id != lease_id or not due:
                raise LeaseLost(f"job {job_id} has no expired lease {lease_id}")
        else:
            job = self._live_lease(job_id, lease_id, now_ms)
        q = self._queues[job.queue]
        q.index.remove(job)
        if not expired:
            q.nacked += 1
        return _replace(job, tries=job.tries + 1, lease_id=None, lease_expires_at_ms=None)

    def _lease_entry_live(self, entry: tuple[int, str, str]) -> bool:
        expires_at_ms, job_id, lease_id = entry
        job = self._jobs.get(job_id)
        return (
            job is not None
            and job.state is StoredState.INFLIGHT
            and job.lease_id == lease_id
            and job.lease_expires_at_ms == expires_at_ms
        )

    def _stats(self, queue: str, q: _Queue, now_ms: int) -> QueueStats:
        index = q.index
        delayed = index.delayed_count(now_ms)
        return QueueStats(
            queue=queue,
            ready=len(index.waiting) - delayed,
            delayed=delayed,
            inflight=len(index.inflight),
            dlq=len(index.dead),
            counters=QueueCounters(
                enqueued_total=q.enqueued, leased_total=q.leased, acked_total=q.acked, nacked_total=q.nacked
            ),
            config=q.config,
        )
