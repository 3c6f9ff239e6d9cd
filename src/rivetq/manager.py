"""``QueueManager``: every queue operation and all policy, over the ``Storage`` seam.

The manager validates input, assigns ids and etas, decides retry-or-DLQ with the
queue's backoff, reaps expired leases, serves long-polls, and reports to an
``Observer``. The storage makes each decision happen atomically.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence

import msgspec

from rivetq import wire
from rivetq.clock import Clock
from rivetq.errors import InvalidArgument, QueueNotFound, RivetQError, StateConflict
from rivetq.ids import new_lease_id
from rivetq.manager_batches import JoinedStorageCalls
from rivetq.manager_options import LeaseListener, ManagerOptions, NullObserver, Observer
from rivetq.manager_reaper import LeaseReaper, fail_attempt
from rivetq.manager_schedules import ScheduleOps
from rivetq.manager_settings import QueueSettings
from rivetq.manager_validation import (
    MAX_DELAY_MS,
    check_batch_size,
    check_cursor,
    check_id,
    check_id_list,
    check_insert,
    check_int,
    check_queue,
    check_reason,
    check_state,
)
from rivetq.models import (
    AckResult,
    BackupResult,
    InsertResult,
    Job,
    JobPage,
    JobState,
    LeaseResult,
    QueueStats,
    StoredState,
)
from rivetq.ratelimit import ms_per_token
from rivetq.storage.base import Storage
from rivetq.waiters import Waiters

__all__ = ["ManagerOptions", "NullObserver", "Observer", "QueueManager"]

logger = logging.getLogger("rivetq.manager")

MAX_VISIBILITY_MS = 43_200_000
MAX_WAIT_MS = wire.MAX_WAIT_MS
# A long-poll held back by a concurrency limit also looks again this often: a slot freed
# on another node (or by a lease expiring) tells this one nothing.
SLOT_RECHECK_MS = 250
_STOP_RECANCEL_S = 0.1
_replace = msgspec.structs.replace


class QueueManager(QueueSettings, ScheduleOps):
    def __init__(
        self,
        storage: Storage,
        *,
        clock: Clock,
        options: ManagerOptions = ManagerOptions(),  # noqa: B008 - frozen, shared safely
        observer: Observer | None = None,
        rng: random.Random | None = None,
        on_fatal: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._storage = storage
        self._joined = JoinedStorageCalls(storage, dedup_window_ms=options.dedup_window_ms, new_lease_id=new_lease_id)
        self._clock = clock
        self._options = options
        self._observer: Observer = observer or NullObserver()
        self._rng = rng or random.Random()
        self._on_fatal = on_fatal
        self._waiters = Waiters()
        self._slot_waits: set[str] = set()  # queues whose long-polls wait for a concurrency slot
        self._lease_listeners: list[LeaseListener] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reaper = LeaseReaper(
            storage, clock=clock, options=options, observer=self._observer, rng=self._rng, on_waiting=self._job_waiting
        )

    def add_lease_listener(self, listener: LeaseListener) -> None:
        self._lease_listeners.append(listener)

    def remove_lease_listener(self, listener: LeaseListener) -> None:
        self._lease_listeners.remove(listener)

    # -- lifecycle --------------------------------------------------------------

    async def start(self) -> None:
        """Start the supervised lease reaper; the storage is already open."""
        self._loop = asyncio.get_running_loop()
        self._storage.set_wakeup(self._on_storage_wakeup)
        self._tasks.append(self._supervise("lease_reaper", self._reaper.run))
        self._tasks.append(self._supervise("scheduler", self.run_scheduler))

    async def stop(self) -> None:
        """Stop the loops and release every long-poll (they return no jobs)."""
        self._waiters.close()
        pending = set(self._tasks)
        while pending:  # again: a cancellation that lands in a query may be swallowed by the driver
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=_STOP_RECANCEL_S)
        for task in self._tasks:  # a loop that died was reported by its supervisor already
            if not task.cancelled():
                task.exception()
        self._tasks.clear()

    def long_polls(self, queue: str) -> int:
        """How many long-polls are waiting on ``queue`` now."""
        return self._waiters.count(queue)

    async def reap_expired_leases(self) -> int:
        """One reaper pass (the loop runs it every ``lease_check_interval_ms``)."""
        return await self._reaper.reap()

    # -- producing --------------------------------------------------------------

    async def enqueue(self, queue: str, request: wire.EnqueueRequest) -> InsertResult:
        [result] = await self._insert(queue, [request], prefix=None)
        return result

    async def enqueue_batch(self, queue: str, requests: Sequence[wire.EnqueueRequest]) -> list[InsertResult]:
        return await self._insert(queue, requests, prefix="jobs")

    # -- consuming --------------------------------------------------------------

    async def lease(self, queue: str, *, max_jobs: int = 1, visibility_ms: int = 30_000, wait_ms: int = 0) -> list[Job]:
        _check_lease(queue, max_jobs, visibility_ms, wait_ms)
        return await self._lease_checked(queue, max_jobs, visibility_ms, wait_ms)

    async def lease_each(
        self, queue: str, max_jobs_each: Sequence[int], *, visibility_ms: int = 30_000
    ) -> list[list[Job]]:
        leases = [self.lease(queue, max_jobs=max_jobs, visibility_ms=visibility_ms) for max_jobs in max_jobs_each]
        return list(await asyncio.gather(*leases))  # made in one pass: joined into one storage lease

    async def ack_and_lease(
        self,
        acks: Sequence[tuple[str, str]],
        queue: str,
        *,
        max_jobs: int = 1,
        visibility_ms: int = 30_000,
        wait_ms: int = 0,
    ) -> tuple[list[AckResult], list[Job]]:
        """A worker's "done with these, give me the next" in one call: ``ack_batch`` (each
        ack stands alone) and ``lease``. Every argument is checked before anything
        changes, so a bad one changes nothing. Both run at once, so on the embedded engine
        they usually share one log write and one fsync.

        Where the two commit separately (PostgreSQL) one half can fail alone. A failed
        lease fails the call. Acks that failed beside a lease that succeeded come back as
        one error per ack, so the leased jobs still reach the worker instead of waiting
        out their visibility timeout."""
        _check_lease(queue, max_jobs, visibility_ms, wait_ms)
        if not acks:
            return [], await self._lease_checked(queue, max_jobs, visibility_ms, wait_ms)
        _check_acks(acks)
        acked, leased = await asyncio.gather(
            self.ack_batch(acks), self._lease_checked(queue, max_jobs, visibility_ms, wait_ms), return_exceptions=True
        )
        if isinstance(leased, BaseException):
            raise leased
        if isinstance(acked, RivetQError):
            return [AckResult(job_id, error=acked.message, error_code=acked.code) for job_id, _ in acks], leased
        if isinstance(acked, BaseException):
            raise acked
        return acked, leased

    async def _lease_checked(self, queue: str, max_jobs: int, visibility_ms: int, wait_ms: int) -> list[Job]:
        if wait_ms == 0 or self._waiters.closed:
            return (await self._lease_once(queue, max_jobs, visibility_ms, self.now_ms())).jobs
        return await self._long_poll(queue, max_jobs, visibility_ms, wait_ms)

    async def ack(self, job_id: str, lease_id: str) -> None:
        check_id(job_id, "job_id")
        check_id(lease_id, "lease_id")
        queue = await self._joined.ack(job_id, lease_id, now_ms=self.now_ms())
        self._observer.jobs_acked(queue, 1)
        self._released(job_id, lease_id)
        self._slot_freed(queue)

    async def ack_batch(self, acks: Sequence[tuple[str, str]]) -> list[AckResult]:
        _check_acks(acks)
        results = await self._joined.ack_batch(acks, now_ms=self.now_ms())
        acked: Counter[str] = Counter()
        for (job_id, lease_id), result in zip(acks, results, strict=True):
            if result.queue is not None:
                self._released(job_id, lease_id)
                acked[result.queue] += 1
        for queue, count in acked.items():
            self._observer.jobs_acked(queue, count)
            self._slot_freed(queue)
        return results

    async def nack(
        self, job_id: str, lease_id: str, *, reason: str | None = None, delay_ms: int | None = None
    ) -> JobState:
        """A failed attempt: DEAD after the last try, else DELAYED (or READY) again."""
        check_id(job_id, "job_id")
        check_id(lease_id, "lease_id")
        check_reason(reason)
        if delay_ms is not None:
            check_int(delay_ms, "delay_ms", 0, MAX_DELAY_MS)
        now_ms = self.now_ms()
        job = await self._storage.get(job_id)  # JobNotFound (404) for an unknown or acked job
        after = await fail_attempt(
            self._storage, self._rng, job, lease_id, error=reason, now_ms=now_ms, delay_ms=delay_ms
        )
        self._observer.jobs_nacked(job.queue, 1)
        self._released(job_id, lease_id)
        self._slot_freed(job.queue)
        if after.state is StoredState.DEAD:
            self._observer.jobs_dead(job.queue, 1)
        else:
            self._job_waiting(after, now_ms)
        return after.state_at(now_ms)

    async def extend(self, job_id: str, lease_id: str, *, visibility_ms: int) -> int:
        """Give a live lease ``visibility_ms`` more from now; returns the new expiry."""
        check_id(job_id, "job_id")
        check_id(lease_id, "lease_id")
        check_int(visibility_ms, "visibility_ms", 1, MAX_VISIBILITY_MS)
        now_ms = self.now_ms()
        expires_at_ms = now_ms + visibility_ms
        await self._storage.extend(job_id, lease_id, expires_at_ms=expires_at_ms, now_ms=now_ms)
        for listener in self._lease_listeners:
            listener.extended(job_id, lease_id, expires_at_ms)
        return expires_at_ms

    # -- jobs and queues ----------------------------------------------------------

    async def get_job(self, job_id: str) -> Job:
        return await self._storage.get(check_id(job_id, "job_id"))

    async def cancel(self, job_id: str) -> None:
        """Delete a job that is not inflight (``StateConflict`` if it is)."""
        await self._storage.delete(check_id(job_id, "job_id"), now_ms=self.now_ms())

    async def list_queues(self) -> list[QueueStats]:
        return await self._storage.list_queues(now_ms=self.now_ms())

    async def stats(self, queue: str) -> QueueStats:
        stats = await self._storage.stats(check_queue(queue), now_ms=self.now_ms())
        if stats is None:
            raise QueueNotFound(f"queue {queue} not found")
        return stats

    async def list_jobs(self, queue: str, *, state: JobState | None, limit: int, cursor: str | None) -> JobPage:
        check_queue(queue)
        check_int(limit, "limit", 1, wire.MAX_BATCH)
        check_state(state)
        cursor = cursor or None  # an empty cursor (REST's ?cursor=, gRPC's cursor="") is the first page
        if cursor is not None:
            check_cursor(cursor)
        return await self._storage.list_jobs(queue, state=state, limit=limit, cursor=cursor, now_ms=self.now_ms())

    async def purge(self, queue: str) -> int:
        return await self._storage.purge(check_queue(queue), now_ms=self.now_ms())

    async def delete_queue(self, queue: str, *, force: bool = False) -> int:
        """Remove the queue entirely (jobs, DLQ, config, counters, idempotency keys, metrics
        series); returns how many jobs went. ``StateConflict`` while jobs are inflight or
        schedules enqueue into it, unless ``force`` (which deletes those schedules too);
        ``QueueNotFound`` if it does not exist."""
        if not isinstance(force, bool):
            raise InvalidArgument("force must be true or false", field="force")
        targeting = await self.schedules_of(check_queue(queue))
        if targeting and not force:
            names = ", ".join(schedule.name for schedule in targeting)
            raise StateConflict(f"schedules enqueue into queue {queue} ({names}): delete them, or delete with force")
        deleted = await self._storage.delete_queue(queue, force=force, now_ms=self.now_ms())
        for schedule in targeting:
            await self._storage.delete_schedule(schedule.name)
        self._observer.queue_deleted(queue)
        return deleted

    # -- dead letter queue --------------------------------------------------------

    async def list_dlq(self, queue: str, *, limit: int, cursor: str | None) -> JobPage:
        return await self.list_jobs(queue, state=JobState.DEAD, limit=limit, cursor=cursor)

    async def requeue_dlq(self, queue: str, job_ids: Sequence[str] | None) -> int:
        """Dead jobs (the given ones, or all) back to ready with ``tries = 0``."""
        check_queue(queue)
        if job_ids is not None:
            check_id_list(job_ids, "job_ids")
        moved = await self._storage.requeue(queue, job_ids, now_ms=self.now_ms())
        if moved:
            self._waiters.notify(queue)
        return moved

    async def purge_dlq(self, queue: str) -> int:
        return await self._storage.purge_dlq(check_queue(queue), now_ms=self.now_ms())

    async def backup(self, dest: str) -> BackupResult:
        if not dest.strip():
            raise InvalidArgument(
                "dest must name an absolute directory on the server's host or an s3://bucket/prefix URL", field="dest"
            )
        return await self._storage.backup(dest)

    # -- internals ----------------------------------------------------------------

    async def _insert(
        self, queue: str, requests: Sequence[wire.EnqueueRequest], *, prefix: str | None
    ) -> list[InsertResult]:
        now_ms = self.now_ms()
        jobs = check_insert(
            queue, requests, now_ms=now_ms, max_payload_bytes=self._options.max_payload_bytes, prefix=prefix
        )
        results = await self._joined.insert(queue, jobs, now_ms=now_ms)
        created = [job for job, result in zip(jobs, results, strict=True) if not result.duplicate]
        if created:
            self._observer.jobs_enqueued(queue, len(created))
            self._wake_for(queue, min(job.eta_ms for job in created), now_ms)
        return results

    async def _lease_once(self, queue: str, max_jobs: int, visibility_ms: int, now_ms: int) -> LeaseResult:
        result = await self._joined.lease(queue, max_jobs=max_jobs, visibility_ms=visibility_ms, now_ms=now_ms)
        if result.rate_limited:
            self._observer.rate_limited(queue)
        if result.jobs:
            self._observer.jobs_leased(queue, result.jobs, now_ms)
        return result

    async def _long_poll(self, queue: str, max_jobs: int, visibility_ms: int, wait_ms: int) -> list[Job]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_ms / 1000
        waiter = self._waiters.join(queue)
        try:
            while not self._waiters.closed:
                waiter.consume()
                leased_at_ms = self.now_ms()
                result = await self._lease_once(queue, max_jobs, visibility_ms, leased_at_ms)
                if result.jobs:
                    if len(result.jobs) == max_jobs:
                        waiter.wake()  # more may be ready: leaving passes the wake-up on
                    return result.jobs
                await self._arm_next_wake(queue, result, leased_at_ms)
                if not await waiter.wait(deadline - loop.time()):
                    break
            return []
        finally:
            self._waiters.leave(waiter)

    async def _arm_next_wake(self, queue: str, result: LeaseResult, leased_at_ms: int) -> None:
        """Arm the queue's timer at its next eta, or when the bucket has a token again.

        The next eta is the first after the empty lease's clock reading, not after now: a
        job that became due since then is no longer "delayed" now, and nothing else would
        wake the waiter for it (a timer may fire a little before the clock reaches the eta
        it was armed for)."""
        now_ms = self.now_ms()
        wake_at = await self._storage.next_eta_ms(queue, now_ms=leased_at_ms)
        if result.rate_limited:
            limit = (await self._storage.get_queue_config(queue)).rate_limit
            if limit is not None:
                refill_at = now_ms + ms_per_token(limit)
                wake_at = refill_at if wake_at is None else min(wake_at, refill_at)
        if result.concurrency_limited:
            self._slot_waits.add(queue)
            recheck_at = now_ms + SLOT_RECHECK_MS
            wake_at = recheck_at if wake_at is None else min(wake_at, recheck_at)
        if wake_at is not None:
            self._waiters.arm(queue, wake_at, now_ms)

    def _wake_for(self, queue: str, eta_ms: int, now_ms: int) -> None:
        if eta_ms <= now_ms:
            self._waiters.notify(queue)
        else:
            self._waiters.arm(queue, eta_ms, now_ms)

    def _job_waiting(self, job: Job, now_ms: int) -> None:
        self._wake_for(job.queue, job.eta_ms, now_ms)

    def _on_storage_wakeup(self, queue: str) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._waiters.notify, queue)

    def _released(self, job_id: str, lease_id: str) -> None:
        for listener in self._lease_listeners:
            listener.released(job_id, lease_id)

    def _slot_freed(self, queue: str) -> None:
        """A job of ``queue`` left inflight: wake a long-poll held back by its concurrency limit."""
        if queue in self._slot_waits:
            self._slot_waits.discard(queue)
            self._waiters.notify(queue)

    def _supervise(self, name: str, run: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        async def supervised() -> None:
            try:
                await run()
                raise RuntimeError(f"background loop {name} ended")
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the supervisor: log, then stop the server loudly
                logger.exception("background loop %s died", name)
                if self._on_fatal is not None:
                    self._on_fatal(error)

        return asyncio.create_task(supervised(), name=f"rivetq-{name}")


def _check_lease(queue: str, max_jobs: int, visibility_ms: int, wait_ms: int) -> None:
    check_queue(queue)
    check_int(max_jobs, "max_jobs", 1, wire.MAX_BATCH)
    check_int(visibility_ms, "visibility_ms", 1, MAX_VISIBILITY_MS)
    check_int(wait_ms, "wait_ms", 0, MAX_WAIT_MS)


def _check_acks(acks: Sequence[tuple[str, str]]) -> None:
    check_batch_size(acks, "acks")
    for i, (job_id, lease_id) in enumerate(acks):
        check_id(job_id, f"acks[{i}].job_id")
        check_id(lease_id, f"acks[{i}].lease_id")
