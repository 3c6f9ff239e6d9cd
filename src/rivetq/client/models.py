"""What the SDK returns: jobs with decoded payloads and parsed times, queue statistics.

These are decoded straight from the server's JSON (one msgspec pass); timestamps are
timezone-aware ``datetime`` objects in UTC.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import msgspec

from rivetq.errors import InvalidArgument
from rivetq.models import RateLimit, RetryPolicy
from rivetq.wire import AckItemResult, QueueSummary, rfc3339_text

__all__ = [
    "AckItemResult",
    "AckedLease",
    "Job",
    "JobPage",
    "JobSpec",
    "QueueStats",
    "QueueSummary",
    "RateLimit",
    "RetryPolicy",
    "Schedule",
]


class Job(msgspec.Struct, frozen=True, kw_only=True):
    """A job as a lease or a lookup returns it. A leased job has ``state == "inflight"``
    and carries the ``lease_id`` that ``ack``/``nack``/``extend`` need."""

    id: str
    queue: str
    payload: Any
    priority: int
    tries: int
    max_retries: int
    created_at: datetime
    state: str = "inflight"
    lease_id: str | None = None
    lease_expires_at: datetime | None = None
    eta: datetime | None = None
    last_error: str | None = None
    idempotency_key: str | None = None
    headers: dict[str, str] = {}


class AckedLease(msgspec.Struct, frozen=True):
    """What ``ack_and_lease`` returns: one result per ack, in order, and the jobs leased."""

    acks: list[AckItemResult]
    jobs: list[Job]


class JobPage(msgspec.Struct, frozen=True):
    """One page of a listing; pass ``next_cursor`` back for the next one (None: last page)."""

    jobs: list[Job]
    next_cursor: str | None


class QueueStats(msgspec.Struct, frozen=True, kw_only=True):
    """Counts by state at one instant, lifetime counters, and the queue's settings."""

    queue: str
    ready: int
    delayed: int
    inflight: int
    dlq: int
    enqueued_total: int
    leased_total: int
    acked_total: int
    nacked_total: int
    paused: bool
    rate_limit: RateLimit | None
    concurrency_limit: int | None = None  # most jobs in flight at once; None: no limit


class Schedule(msgspec.Struct, frozen=True, kw_only=True):
    """A schedule as the server reports it: its definition, its next run and its runs so far."""

    name: str
    queue: str
    cron: str | None
    interval_ms: int | None
    timezone: str
    payload: Any
    priority: int
    max_retries: int
    headers: dict[str, str]
    catchup: str
    paused: bool
    created_at: datetime
    next_run_at: datetime
    last_run_at: datetime | None
    runs_total: int


class JobSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One job of ``enqueue_batch``; the fields and defaults of ``enqueue``."""

    payload: Any
    priority: int = 5
    delay_ms: int = 0
    max_retries: int = 3
    idempotency_key: str | None = None
    run_at: datetime | str | None = None
    headers: dict[str, str] | None = None


_PAYLOAD_ENCODER = msgspec.json.Encoder()


def job_specs(jobs: Iterable[JobSpec | Mapping[str, Any]]) -> list[JobSpec]:
    """The jobs of ``enqueue_batch``: ``JobSpec``s, or dicts of its fields."""
    return [job if isinstance(job, JobSpec) else JobSpec(**job) for job in jobs]


def required_lease(lease_id: str | None) -> str:
    """``Job.lease_id`` is optional (a looked-up job may not be leased); the calls that
    need one accept it as is, so that ``client.ack(job.id, job.lease_id)`` type-checks."""
    if not lease_id:
        raise InvalidArgument("lease_id is required (the job is not leased)", field="lease_id")
    return lease_id


def payload_json(spec: JobSpec) -> bytes:
    """The payload as JSON, as both APIs take it. JSON has no NaN or infinity, and msgspec
    would write them as ``null``: refused instead of changing the job's data."""
    data = _PAYLOAD_ENCODER.encode(spec.payload)
    if (
        b"null" in data
        and not isinstance(spec.payload, msgspec.Raw)
        and _non_finite_in(msgspec.to_builtins(spec.payload))
    ):
        raise InvalidArgument("payload: NaN and infinity have no JSON form", field="payload")
    return data


def _non_finite_in(value: object) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_non_finite_in(item) for item in value.values())
    if isinstance(value, list):
        return any(_non_finite_in(item) for item in value)
    return False


def run_at_text(spec: JobSpec) -> str | None:
    """``run_at`` as both APIs take it: RFC 3339 in UTC with milliseconds (text as given)."""
    if spec.run_at is None or isinstance(spec.run_at, str):
        return spec.run_at
    return rfc3339_text(spec.run_at)
