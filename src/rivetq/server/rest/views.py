"""Models → wire shapes, and msgspec-encoded JSON responses (one reused encoder)."""

from __future__ import annotations

import functools
import time

import msgspec
from starlette.responses import Response

from rivetq import wire
from rivetq.models import Job, JobPage, QueueStats, RateLimit

__all__ = [
    "concurrency_limit_view",
    "job_list",
    "job_view",
    "json_response",
    "leased_job",
    "queue_stats",
    "queue_summary",
    "rate_limit_view",
    "rfc3339_ms",
]

_ENCODER = msgspec.json.Encoder()


def json_response(value: object, status: int = 200) -> Response:
    return Response(_ENCODER.encode(value), status_code=status, media_type="application/json")


def rfc3339_ms(ms: int) -> str:
    """``1764352200123`` → ``"2025-11-28T17:50:00.123Z"`` (UTC, milliseconds)."""
    seconds, millis = divmod(ms, 1000)
    return f"{_rfc3339_second(seconds)}.{millis:03d}Z"


@functools.lru_cache(maxsize=4096)
def _rfc3339_second(seconds: int) -> str:
    """The part down to the second: the jobs of one response mostly share a few seconds."""
    t = time.gmtime(seconds)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"


def _optional_time(ms: int | None) -> str | None:
    return None if ms is None else rfc3339_ms(ms)


def leased_job(job: Job) -> wire.LeasedJob:
    return wire.LeasedJob(
        id=job.id,
        queue=job.queue,
        payload=msgspec.Raw(job.payload),
        priority=job.priority,
        tries=job.tries,
        max_retries=job.max_retries,
        lease_id=job.lease_id or "",
        lease_expires_at=rfc3339_ms(job.lease_expires_at_ms or 0),
        created_at=rfc3339_ms(job.created_at_ms),
        eta=rfc3339_ms(job.eta_ms),
        idempotency_key=job.idempotency_key,
        headers=job.headers or {},
    )


def job_view(job: Job, now_ms: int) -> wire.JobView:
    return wire.JobView(
        id=job.id,
        queue=job.queue,
        payload=msgspec.Raw(job.payload),
        priority=job.priority,
        state=job.state_at(now_ms).value,
        tries=job.tries,
        max_retries=job.max_retries,
        eta=rfc3339_ms(job.eta_ms),
        created_at=rfc3339_ms(job.created_at_ms),
        idempotency_key=job.idempotency_key,
        last_error=job.last_error,
        lease_id=job.lease_id,
        lease_expires_at=_optional_time(job.lease_expires_at_ms),
        headers=job.headers or {},
    )


def job_list(page: JobPage, now_ms: int) -> wire.JobListResponse:
    return wire.JobListResponse(jobs=[job_view(job, now_ms) for job in page.jobs], next_cursor=page.next_cursor)


def queue_summary(stats: QueueStats) -> wire.QueueSummary:
    return wire.QueueSummary(
        name=stats.queue,
        ready=stats.ready,
        delayed=stats.delayed,
        inflight=stats.inflight,
        dlq=stats.dlq,
        paused=stats.config.paused,
        enqueued_total=stats.counters.enqueued_total,
        leased_total=stats.counters.leased_total,
        acked_total=stats.counters.acked_total,
        nacked_total=stats.counters.nacked_total,
    )


def rate_limit_view(limit: RateLimit | None) -> wire.RateLimitView:
    if limit is None:
        return wire.RateLimitView(capacity=0, refill_rate=0, exists=False)
    return wire.RateLimitView(capacity=limit.capacity, refill_rate=limit.refill_rate, exists=True)


def concurrency_limit_view(max_inflight: int | None) -> wire.ConcurrencyLimitView:
    return wire.ConcurrencyLimitView(max_inflight=max_inflight or 0, exists=max_inflight is not None)


def queue_stats(stats: QueueStats) -> wire.QueueStatsResponse:
    counters, limit, max_inflight = stats.counters, stats.config.rate_limit, stats.config.max_inflight
    return wire.QueueStatsResponse(
        queue=stats.queue,
        ready=stats.ready,
        delayed=stats.delayed,
        inflight=stats.inflight,
        dlq=stats.dlq,
        enqueued_total=counters.enqueued_total,
        leased_total=counters.leased_total,
        acked_total=counters.acked_total,
        nacked_total=counters.nacked_total,
        paused=stats.config.paused,
        rate_limit=rate_limit_view(limit),
        concurrency_limit=concurrency_limit_view(max_inflight),
    )
