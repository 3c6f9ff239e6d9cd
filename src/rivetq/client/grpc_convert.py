"""Protobuf messages to and from the SDK's values (``rivetq.client.models``), so that
``GrpcClient`` takes and returns exactly what the REST clients do."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec

from rivetq.client.models import (
    AckItemResult,
    Job,
    JobPage,
    JobSpec,
    QueueStats,
    QueueSummary,
    RateLimit,
    RetryPolicy,
    Schedule,
    payload_json,
    run_at_text,
)
from rivetq.errors import InvalidArgument
from rivetq.server.grpc._pb import rivetq_pb2 as pb

__all__ = [
    "ack_result_from",
    "build",
    "enqueue_message",
    "job_from",
    "page_from",
    "retry_policy_from",
    "schedule_from",
    "state_name",
    "state_value",
    "stats_from",
    "summary_from",
    "time_from",
]


Message = TypeVar("Message")


def build(message_type: Callable[..., Message], field_prefix: str = "", **fields: Any) -> Message:
    """``message_type(**fields)``, where a value that does not fit its protobuf field (out
    of range, wrong type) is ``InvalidArgument`` naming the field, as the server (and the
    REST client) would say, rather than protobuf's ValueError or TypeError."""
    try:
        return message_type(**fields)
    except (ValueError, TypeError):
        for name, value in fields.items():
            try:
                message_type(**{name: value})
            except (ValueError, TypeError) as error:
                field = f"{field_prefix}{name}"
                raise InvalidArgument(f"{field}: {error}", field=field) from None
        raise


def time_from(at_ms: int) -> datetime:
    return datetime.fromtimestamp(at_ms / 1000, UTC)


def enqueue_message(spec: JobSpec, field_prefix: str = "") -> pb.EnqueueRequest:
    return build(
        pb.EnqueueRequest,
        field_prefix,
        payload=payload_json(spec),
        priority=spec.priority,
        delay_ms=spec.delay_ms or None,
        run_at=run_at_text(spec),
        max_retries=spec.max_retries,
        idempotency_key=spec.idempotency_key,
        headers=spec.headers,
    )


def retry_policy_from(message: pb.RetryPolicy) -> RetryPolicy:
    """The policy a reply reports (the server sets every field)."""
    return RetryPolicy(
        base_backoff_ms=message.base_backoff_ms,
        multiplier=message.multiplier,
        max_backoff_ms=message.max_backoff_ms,
        jitter=message.jitter,
    )


def state_name(value: pb.JobState) -> str:
    name: str = pb.JobState.Name(value)
    return name.removeprefix("JOB_STATE_").lower()


def state_value(name: str | None) -> pb.JobState:
    if name is None:
        return pb.JOB_STATE_UNSPECIFIED
    try:
        value: pb.JobState = pb.JobState.Value(f"JOB_STATE_{name.upper()}")
    except ValueError:
        raise InvalidArgument(f"state must be ready, delayed, inflight or dead, not {name!r}", field="state") from None
    return value


def _optional(message: Any, field: str) -> Any:
    return getattr(message, field) if message.HasField(field) else None


def job_from(message: pb.Job) -> Job:
    expires_at_ms = _optional(message, "lease_expires_at_ms")
    return Job(
        id=message.id,
        queue=message.queue,
        payload=msgspec.json.decode(message.payload),
        priority=message.priority,
        tries=message.tries,
        max_retries=message.max_retries,
        created_at=time_from(message.created_at_ms),
        state=state_name(message.state),
        lease_id=_optional(message, "lease_id"),
        lease_expires_at=None if expires_at_ms is None else time_from(expires_at_ms),
        eta=time_from(message.eta_ms),
        last_error=_optional(message, "last_error"),
        idempotency_key=_optional(message, "idempotency_key"),
        headers=dict(message.headers),
    )


def page_from(message: pb.ListJobsResponse | pb.ListDLQResponse) -> JobPage:
    return JobPage([job_from(job) for job in message.jobs], _optional(message, "next_cursor"))


def ack_result_from(message: pb.AckResult) -> AckItemResult:
    return AckItemResult(
        job_id=message.job_id,
        ok=message.ok,
        error=_optional(message, "error"),
        error_code=_optional(message, "error_code"),
    )


def summary_from(message: pb.QueueSummary) -> QueueSummary:
    return QueueSummary(
        message.name,
        message.ready,
        message.delayed,
        message.inflight,
        message.dlq,
        message.paused,
        enqueued_total=message.enqueued_total,
        leased_total=message.leased_total,
        acked_total=message.acked_total,
        nacked_total=message.nacked_total,
    )


def stats_from(message: pb.StatsResponse) -> QueueStats:
    limit = message.rate_limit if message.HasField("rate_limit") else None
    return QueueStats(
        queue=message.queue,
        ready=message.ready,
        delayed=message.delayed,
        inflight=message.inflight,
        dlq=message.dlq,
        enqueued_total=message.enqueued_total,
        leased_total=message.leased_total,
        acked_total=message.acked_total,
        nacked_total=message.nacked_total,
        paused=message.paused,
        rate_limit=None if limit is None else RateLimit(capacity=limit.capacity, refill_rate=limit.refill_rate),
        concurrency_limit=_optional(message, "max_inflight"),
    )


def schedule_from(message: pb.Schedule) -> Schedule:
    last_run_at_ms = _optional(message, "last_run_at_ms")
    return Schedule(
        name=message.name,
        queue=message.queue,
        cron=_optional(message, "cron"),
        interval_ms=_optional(message, "interval_ms"),
        timezone=message.timezone,
        payload=msgspec.json.decode(message.payload),
        priority=message.priority,
        max_retries=message.max_retries,
        headers=dict(message.headers),
        catchup=message.catchup,
        paused=message.paused,
        created_at=time_from(message.created_at_ms),
        next_run_at=time_from(message.next_run_at_ms),
        last_run_at=None if last_run_at_ms is None else time_from(last_run_at_ms),
        runs_total=message.runs_total,
    )
