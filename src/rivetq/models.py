"""Data objects shared by every layer. All frozen; transitions build new objects."""

from __future__ import annotations

import enum

import msgspec

from rivetq.errors import LeaseLost, RivetQError, error_for_code

__all__ = [
    "BackupResult",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_PRIORITY",
    "AckResult",
    "InsertResult",
    "Job",
    "JobPage",
    "JobState",
    "LeaseResult",
    "NewJob",
    "QueueConfig",
    "QueueCounters",
    "QueueStats",
    "RateLimit",
    "RetryPolicy",
    "Schedule",
    "StoredState",
]

DEFAULT_PRIORITY = 5
DEFAULT_MAX_RETRIES = 3


class JobState(enum.StrEnum):
    """The state a user sees (SPEC §1)."""

    DELAYED = "delayed"
    READY = "ready"
    INFLIGHT = "inflight"
    DEAD = "dead"


class StoredState(enum.StrEnum):
    """The state a backend stores. ``WAITING`` is ready or delayed depending on ``eta_ms``,
    so a delayed job becomes ready by the passing of time, with no write."""

    WAITING = "waiting"
    INFLIGHT = "inflight"
    DEAD = "dead"


class Job(msgspec.Struct, frozen=True, kw_only=True):
    """One job. ``payload`` is the job's JSON exactly as the producer sent it (never
    decoded by the server). ``seq`` is the enqueue order, assigned by the backend."""

    id: str
    queue: str
    payload: bytes
    priority: int
    eta_ms: int
    max_retries: int
    tries: int
    created_at_ms: int
    seq: int
    state: StoredState
    idempotency_key: str | None = None
    last_error: str | None = None
    lease_id: str | None = None
    lease_expires_at_ms: int | None = None
    headers: dict[str, str] | None = None  # None when the producer sent none

    def state_at(self, now_ms: int) -> JobState:
        """The user-visible state at ``now_ms``."""
        if self.state is StoredState.INFLIGHT:
            return JobState.INFLIGHT
        if self.state is StoredState.DEAD:
            return JobState.DEAD
        return JobState.DELAYED if self.eta_ms > now_ms else JobState.READY


class NewJob(msgspec.Struct, frozen=True, kw_only=True):
    """A job to insert; the manager has validated it and assigned id and eta."""

    id: str
    payload: bytes
    priority: int
    eta_ms: int
    max_retries: int
    idempotency_key: str | None = None
    headers: dict[str, str] | None = None


class InsertResult(msgspec.Struct, frozen=True):
    """``job_id`` is the existing job's id when ``duplicate`` is true."""

    job_id: str
    duplicate: bool


class LeaseResult(msgspec.Struct, frozen=True):
    """Jobs handed out; ``rate_limited`` is true when the token bucket cut the batch,
    ``concurrency_limited`` when the queue's limit on jobs in flight did."""

    jobs: list[Job]
    rate_limited: bool
    concurrency_limited: bool = False


class AckResult(msgspec.Struct, frozen=True):
    """One entry of a batch ack: ``error`` is None on success, when ``queue`` is the
    acked job's queue."""

    job_id: str
    error: str | None = None
    error_code: str | None = None
    queue: str | None = None

    def failure(self) -> RivetQError:
        """The error a single ack of this job raises."""
        return error_for_code(self.error_code or LeaseLost.code, self.error or "")


class RateLimit(msgspec.Struct, frozen=True):
    """Token bucket settings: ``capacity`` tokens, refilled at ``refill_rate`` tokens/s."""

    capacity: float
    refill_rate: float


class RetryPolicy(msgspec.Struct, frozen=True):
    """Backoff = min(max_backoff_ms, base_backoff_ms * multiplier^(tries-1)) with jitter."""

    base_backoff_ms: int = 1000
    multiplier: float = 2.0
    max_backoff_ms: int = 3_600_000
    jitter: str = "equal"  # "equal" (uniform in [b/2, b]), "full" ([0, b]) or "none"


class QueueConfig(msgspec.Struct, frozen=True):
    """Per-queue settings a backend persists."""

    paused: bool = False
    rate_limit: RateLimit | None = None
    retry_policy: RetryPolicy = RetryPolicy()
    max_inflight: int | None = None  # the concurrency limit: jobs in flight at once, across nodes

    def lease_cap(self, max_jobs: int, inflight: int) -> int:
        """How many of ``max_jobs`` a lease may hand out with ``inflight`` jobs leased now."""
        if self.max_inflight is None:
            return max_jobs
        return max(0, min(max_jobs, self.max_inflight - inflight))


class QueueCounters(msgspec.Struct, frozen=True):
    """Monotonic totals per queue, persisted by the backend."""

    enqueued_total: int = 0
    leased_total: int = 0
    acked_total: int = 0
    nacked_total: int = 0


class QueueStats(msgspec.Struct, frozen=True, kw_only=True):
    """Counts by state at one instant, with counters and config."""

    queue: str
    ready: int
    delayed: int
    inflight: int
    dlq: int
    counters: QueueCounters
    config: QueueConfig


class BackupResult(msgspec.Struct, frozen=True, kw_only=True):
    """An online backup written: where, the snapshot's LSN and the last WAL record it holds."""

    url: str
    snapshot_lsn: int
    last_lsn: int


class JobPage(msgspec.Struct, frozen=True):
    """One page of a job listing; ``next_cursor`` is None on the last page."""

    jobs: list[Job]
    next_cursor: str | None


class Schedule(msgspec.Struct, frozen=True, kw_only=True):
    """Enqueues a job on ``queue`` at every tick of ``cron`` (in ``timezone``) or every
    ``interval_ms`` (exactly one of them). ``next_run_at_ms`` is the next tick due;
    ``catchup`` says what ticks missed while no node ran do: ``skip`` (one run for the
    latest) or ``all`` (a run each, up to a bound)."""

    name: str
    queue: str
    payload: bytes
    cron: str | None = None
    interval_ms: int | None = None
    timezone: str = "UTC"
    priority: int = DEFAULT_PRIORITY
    max_retries: int = DEFAULT_MAX_RETRIES
    headers: dict[str, str] | None = None
    catchup: str = "skip"
    paused: bool = False
    created_at_ms: int = 0
    next_run_at_ms: int = 0
    last_run_at_ms: int | None = None  # the tick of the last run fired
    runs_total: int = 0
