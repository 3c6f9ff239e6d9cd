"""The storage seam: atomic job-state transitions, no policy.

The ``QueueManager`` decides *what* happens (validation, backoff, DLQ after the last
try, idempotency windows); a backend makes each decision happen atomically and durably.
Every backend passes ``tests/storage/test_contract.py``.

Rules every backend follows:

* Every method is atomic: it applies whole or not at all. A method that returns
  normally has made its change durable to the backend's promise (for ``local`` with
  fsync on: on disk).
* Lease order among waiting jobs with ``eta_ms <= now_ms``: ``priority`` descending,
  then ``eta_ms`` ascending, then ``seq`` (enqueue order) ascending. Exact.
* A lease is valid while ``lease_id`` matches and ``now_ms < lease_expires_at_ms``;
  ``ack``, ``retry``, ``bury`` and ``extend`` raise ``LeaseLost`` otherwise and change
  nothing. ``JobNotFound`` is raised for an unknown job id (acked, deleted or never
  there), except by the reaper's ``retry``/``bury`` (``expired=True``), where it is
  ``LeaseLost`` too: whoever removed the job settled the lease.
* Write failures raise ``StorageUnavailable``; nothing is half-applied.
* Counters (``QueueCounters``) are updated by the transition that causes them:
  insert → enqueued_total, lease → leased_total, ack → acked_total,
  retry/bury of a live lease (a nack) → nacked_total. Expiry (``expired=True``) does
  not count as a nack.
* A queue "exists" once it has had a job or a config; ``list_queues`` returns those.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

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
    QueueStats,
    Schedule,
)

__all__ = ["NO_BACKUP_POSTGRES", "Storage", "WakeupCallback", "inflight_refusal"]

NO_BACKUP_POSTGRES = (
    "the postgres storage backend keeps jobs in PostgreSQL: back it up with pg_dump or the database's own "
    "point-in-time recovery (online backups are the embedded engine's, storage.backend: local)"
)

WakeupCallback = Callable[[str], None]
"""Called with a queue name when jobs of that queue may have become leasable through
another process (PostgreSQL nodes); in-process changes are known to the manager."""


class Storage(Protocol):
    async def open(self) -> None:
        """Acquire resources (data-dir lock, connections), recover state."""
        ...

    async def close(self) -> None:
        """Flush and release everything; safe to call twice."""
        ...

    def set_wakeup(self, callback: WakeupCallback) -> None:
        """Register the callback for changes made by other processes."""
        ...

    def gauges(self) -> dict[str, float]:
        """Backend figures for metrics, e.g. ``{"wal_segments": 3, "wal_size_bytes": 1e6}``."""
        ...

    def unavailable_reason(self) -> str | None:
        """None while writes can succeed; else why not (fsync failed, disk full, db down)."""
        ...

    def notices(self) -> list[str]:
        """Problems that do not stop writes but need an operator (WAL shipping failing)."""
        ...

    async def backup(self, dest: str) -> BackupResult:
        """Write a consistent copy to ``dest`` (a directory or s3:// URL) while writes go on."""
        ...

    # -- writes ---------------------------------------------------------------

    async def insert(
        self, queue: str, jobs: Sequence[NewJob], *, now_ms: int, dedup_window_ms: int
    ) -> list[InsertResult]:
        """Insert all jobs or none. A job whose ``idempotency_key`` matches a key recorded on
        the same queue less than ``dedup_window_ms`` ago inserts nothing and returns the
        first job's id with ``duplicate=True`` (two jobs of one batch with the same key:
        the second is the duplicate). Keys outlive the job (ack does not free them).
        A job id that already exists raises ``StateConflict`` and inserts nothing."""
        ...

    async def lease(
        self,
        queue: str,
        *,
        max_jobs: int,
        visibility_ms: int,
        now_ms: int,
        new_lease_id: Callable[[], str],
    ) -> LeaseResult:
        """Lease up to ``max_jobs`` jobs in service order. Returns no jobs while the queue
        is paused. With a rate limit, takes one token per job from the queue's bucket
        (refilled up to ``now_ms``) and leases at most the tokens available; tokens not
        used because fewer jobs were ready are kept in the bucket. ``rate_limited`` is true
        when the bucket held back jobs that were ready. Each job gets ``new_lease_id()``,
        ``lease_expires_at_ms = now_ms + visibility_ms``; ``tries`` is unchanged. A backend
        may draw more lease ids than it leases jobs; the n-th id drawn in a call goes to the
        n-th job in service order."""
        ...

    async def ack(self, job_id: str, lease_id: str, *, now_ms: int) -> str:
        """Remove a leased job (done); returns its queue."""
        ...

    async def ack_batch(self, acks: Sequence[tuple[str, str]], *, now_ms: int) -> list[AckResult]:
        """Each (job_id, lease_id) acked on its own (a success carries the job's queue);
        failures are reported, not raised (except ``StorageUnavailable``). One durable
        write for the whole batch."""
        ...

    async def extend(self, job_id: str, lease_id: str, *, expires_at_ms: int, now_ms: int) -> Job:
        """Move a live lease's expiry to ``expires_at_ms``; returns the updated job."""
        ...

    async def retry(
        self, job_id: str, lease_id: str, *, eta_ms: int, error: str | None, now_ms: int, expired: bool = False
    ) -> Job:
        """A failed attempt that will run again: ``tries += 1``, state waiting at ``eta_ms``,
        ``last_error = error``, lease cleared. With ``expired=False`` (a nack) the lease
        must be live; with ``expired=True`` (the reaper) the lease must have expired
        (``lease_expires_at_ms <= now_ms``), else ``LeaseLost``."""
        ...

    async def bury(self, job_id: str, lease_id: str, *, error: str | None, now_ms: int, expired: bool = False) -> Job:
        """A failed last attempt: ``tries += 1``, state dead with ``last_error``; lease rules
        as in ``retry``."""
        ...

    async def requeue(self, queue: str, job_ids: Sequence[str] | None, *, now_ms: int) -> int:
        """Move dead jobs (the given ones of this queue, or all) back to waiting with
        ``tries = 0`` and ``eta_ms = now_ms``. Ids that are not dead jobs of this queue are
        skipped. Returns how many moved."""
        ...

    async def delete(self, job_id: str, *, now_ms: int) -> Job:
        """Delete a waiting or dead job (``StateConflict`` if inflight, ``JobNotFound``)."""
        ...

    async def purge(self, queue: str, *, now_ms: int) -> int:
        """Delete every job of the queue in any state; returns the count. Config,
        counters and idempotency keys stay."""
        ...

    async def purge_dlq(self, queue: str, *, now_ms: int) -> int:
        """Delete the queue's dead jobs; returns the count."""
        ...

    async def delete_queue(self, queue: str, *, force: bool, now_ms: int) -> int:
        """Remove the queue entirely, atomically: every job (dead ones too), its config,
        counters, token bucket and idempotency keys; returns how many jobs went. It no
        longer exists afterwards (an enqueue creates it anew). ``QueueNotFound`` if it does
        not exist; ``StateConflict`` (and nothing changes) while a job is inflight, unless
        ``force``."""
        ...

    async def put_schedule(self, schedule: Schedule) -> None:
        """Create or replace the schedule of that name."""
        ...

    async def get_schedule(self, name: str) -> Schedule | None: ...

    async def list_schedules(self) -> list[Schedule]:
        """Every schedule, sorted by name."""
        ...

    async def delete_schedule(self, name: str) -> bool:
        """False if there was none."""
        ...

    async def advance_schedule(
        self, name: str, *, due_ms: int, next_run_at_ms: int, last_run_at_ms: int, fired: int
    ) -> bool:
        """Record runs fired: only if the schedule still exists with ``next_run_at_ms ==
        due_ms`` (another node, or a replace, may have moved it: then False, no change);
        ``runs_total += fired``."""
        ...

    async def update_queue_config(
        self, queue: str, change: Callable[[QueueConfig], QueueConfig], *, now_ms: int
    ) -> None:
        """Replace the queue's config with ``change(current config)``, atomically: two
        changes at once (from two nodes, say) each see the other's. A rate limit that is
        new or changed starts with a full bucket; an unchanged one keeps its bucket."""
        ...

    # -- reads ----------------------------------------------------------------

    async def get(self, job_id: str) -> Job:
        """The job (``JobNotFound`` if absent)."""
        ...

    async def get_queue_config(self, queue: str) -> QueueConfig:
        """The queue's config (defaults for an unknown queue)."""
        ...

    async def stats(self, queue: str, *, now_ms: int) -> QueueStats | None:
        """Counts, counters and config; None if the queue never existed."""
        ...

    async def list_queues(self, *, now_ms: int) -> list[QueueStats]:
        """Stats of every queue that exists, sorted by name."""
        ...

    async def list_jobs(
        self, queue: str, *, state: JobState | None, limit: int, cursor: str | None, now_ms: int
    ) -> JobPage:
        """Jobs of a queue (optionally of one user-visible state) in id order, ``limit``
        per page, starting after ``cursor`` (an opaque string from ``next_cursor``)."""
        ...

    async def expired_leases(self, *, now_ms: int, limit: int) -> list[Job]:
        """Inflight jobs whose lease expired (``lease_expires_at_ms <= now_ms``), soonest
        expired first."""
        ...

    async def next_eta_ms(self, queue: str, *, now_ms: int) -> int | None:
        """The earliest eta of the queue's delayed jobs (eta > now), or None."""
        ...


def inflight_refusal(queue: str, inflight: int) -> str:
    """Every backend's words for a ``delete_queue`` refused because of leased jobs."""
    return f"queue {queue} has {inflight} job(s) inflight: wait for them, or delete with force"
