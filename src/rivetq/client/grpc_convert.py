"""Protobuf messages to and from the values ``GrpcClient`` takes and returns."""

from __future__ import annotations

from typing import Any

import msgspec

from rivetq.client.grpc_types import GrpcJob, GrpcJobPage, GrpcQueueStats, GrpcQueueSummary, GrpcRateLimit
from rivetq.server.grpc._pb import rivetq_pb2 as pb

__all__ = ["enqueue_message", "job_from", "page_from", "stats_from", "summary_from"]


def enqueue_message(payload: Any, *, queue: str = "", **options: Any) -> pb.EnqueueRequest:
    """``options`` are the keyword options of ``GrpcClient.enqueue``; None means default."""
    fields = {name: value for name, value in options.items() if value is not None}
    return pb.EnqueueRequest(queue=queue, payload=msgspec.json.encode(payload), **fields)


def _optional(message: Any, field: str) -> Any:
    return getattr(message, field) if message.HasField(field) else None


def job_from(message: pb.Job) -> GrpcJob:
    return GrpcJob(
        id=message.id,
        queue=message.queue,
        payload=msgspec.json.decode(message.payload),
        raw_payload=message.payload,
        priority=message.priority,
        state=pb.JobState.Name(message.state).removeprefix("JOB_STATE_").lower(),
        tries=message.tries,
        max_retries=message.max_retries,
        eta_ms=message.eta_ms,
        created_at_ms=message.created_at_ms,
        idempotency_key=_optional(message, "idempotency_key"),
        last_error=_optional(message, "last_error"),
        lease_id=_optional(message, "lease_id"),
        lease_expires_at_ms=_optional(message, "lease_expires_at_ms"),
    )


def page_from(message: pb.ListJobsResponse | pb.ListDLQResponse) -> GrpcJobPage:
    return GrpcJobPage([job_from(job) for job in message.jobs], _optional(message, "next_cursor"))


def summary_from(message: pb.QueueSummary) -> GrpcQueueSummary:
    return GrpcQueueSummary(
        name=message.name,
        ready=message.ready,
        delayed=message.delayed,
        inflight=message.inflight,
        dlq=message.dlq,
        paused=message.paused,
    )


def stats_from(message: pb.StatsResponse) -> GrpcQueueStats:
    limit = message.rate_limit if message.HasField("rate_limit") else None
    return GrpcQueueStats(
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
        rate_limit=None if limit is None else GrpcRateLimit(limit.capacity, limit.refill_rate),
    )
