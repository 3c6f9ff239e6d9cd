"""Translation between protobuf messages and RivetQ's models and wire shapes.

Payloads pass through as the producer's JSON bytes, never re-encoded."""

from __future__ import annotations

from typing import Any, Final

import msgspec

from rivetq import wire
from rivetq.errors import InvalidArgument
from rivetq.models import DEFAULT_MAX_RETRIES, DEFAULT_PRIORITY, Job, JobState, QueueStats, RetryPolicy
from rivetq.server.grpc._pb import rivetq_pb2 as pb

__all__ = [
    "job_message",
    "job_messages",
    "job_state",
    "optional",
    "queue_summary",
    "retry_policy",
    "retry_policy_message",
    "state_message",
    "stats_response",
    "wire_enqueue",
]

_STATE_TO_PB: Final[dict[JobState, pb.JobState]] = {
    JobState.DELAYED: pb.JOB_STATE_DELAYED,
    JobState.READY: pb.JOB_STATE_READY,
    JobState.INFLIGHT: pb.JOB_STATE_INFLIGHT,
    JobState.DEAD: pb.JOB_STATE_DEAD,
}
_STATE_FROM_PB: Final[dict[int, JobState]] = {int(value): state for state, value in _STATE_TO_PB.items()}


def optional(message: Any, field: str) -> Any:
    """The field's value when the sender set it, else None (proto3 ``optional``)."""
    return getattr(message, field) if message.HasField(field) else None


def wire_enqueue(message: pb.EnqueueRequest) -> wire.EnqueueRequest:
    """The REST shape of an enqueue; the manager validates every field, payload included."""
    priority = optional(message, "priority")
    max_retries = optional(message, "max_retries")
    return wire.EnqueueRequest(
        payload=msgspec.Raw(message.payload),
        priority=DEFAULT_PRIORITY if priority is None else priority,
        delay_ms=optional(message, "delay_ms"),
        run_at=optional(message, "run_at"),
        max_retries=DEFAULT_MAX_RETRIES if max_retries is None else max_retries,
        idempotency_key=optional(message, "idempotency_key"),
        headers=dict(message.headers) or None,
    )


def retry_policy(message: pb.RetryPolicy) -> RetryPolicy:
    """The policy a request asks for: unset fields take the defaults (the manager checks it)."""
    set_fields = {field: optional(message, field) for field in RetryPolicy.__struct_fields__}
    return RetryPolicy(**{field: value for field, value in set_fields.items() if value is not None})


def retry_policy_message(policy: RetryPolicy) -> pb.RetryPolicy:
    return pb.RetryPolicy(
        base_backoff_ms=policy.base_backoff_ms,
        multiplier=policy.multiplier,
        max_backoff_ms=policy.max_backoff_ms,
        jitter=policy.jitter,
    )


def state_message(state: JobState) -> pb.JobState:
    return _STATE_TO_PB[state]


def job_state(value: int) -> JobState | None:
    """The state filter of a listing: UNSPECIFIED means every state."""
    if value == pb.JOB_STATE_UNSPECIFIED:
        return None
    try:
        return _STATE_FROM_PB[value]
    except KeyError:
        raise InvalidArgument(f"state {value} is not a job state", field="state") from None


def job_message(job: Job, now_ms: int) -> pb.Job:
    return pb.Job(
        id=job.id,
        queue=job.queue,
        payload=job.payload,
        priority=job.priority,
        state=_STATE_TO_PB[job.state_at(now_ms)],
        tries=job.tries,
        max_retries=job.max_retries,
        eta_ms=job.eta_ms,
        created_at_ms=job.created_at_ms,
        idempotency_key=job.idempotency_key,
        last_error=job.last_error,
        lease_id=job.lease_id,
        lease_expires_at_ms=job.lease_expires_at_ms,
        headers=job.headers,
    )


def job_messages(jobs: list[Job], now_ms: int) -> list[pb.Job]:
    return [job_message(job, now_ms) for job in jobs]


def queue_summary(stats: QueueStats) -> pb.QueueSummary:
    return pb.QueueSummary(
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


def stats_response(stats: QueueStats) -> pb.StatsResponse:
    limit = stats.config.rate_limit
    counters = stats.counters
    return pb.StatsResponse(
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
        rate_limit=None if limit is None else pb.RateLimit(capacity=limit.capacity, refill_rate=limit.refill_rate),
        max_inflight=stats.config.max_inflight,
    )
