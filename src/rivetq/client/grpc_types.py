"""What ``GrpcClient`` returns: plain frozen values built from the protobuf messages.

Times are integers as on the wire: ``*_ms`` durations, ``*_at_ms`` epoch milliseconds."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["GrpcAckResult", "GrpcJob", "GrpcJobPage", "GrpcQueueStats", "GrpcQueueSummary", "GrpcRateLimit"]


class GrpcJob(msgspec.Struct, frozen=True, kw_only=True):
    """A job; ``payload`` is the decoded JSON, ``raw_payload`` the exact bytes enqueued."""

    id: str
    queue: str
    payload: Any
    raw_payload: bytes
    priority: int
    state: str  # "delayed", "ready", "inflight" or "dead"
    tries: int
    max_retries: int
    eta_ms: int
    created_at_ms: int
    idempotency_key: str | None = None
    last_error: str | None = None
    lease_id: str | None = None
    lease_expires_at_ms: int | None = None


class GrpcJobPage(msgspec.Struct, frozen=True):
    jobs: list[GrpcJob]
    next_cursor: str | None


class GrpcAckResult(msgspec.Struct, frozen=True):
    """One entry of ``ack_batch``; ``error_code`` is a RivetQ error code when not ``ok``."""

    job_id: str
    ok: bool
    error_code: str | None = None
    error: str | None = None


class GrpcQueueSummary(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    ready: int
    delayed: int
    inflight: int
    dlq: int
    paused: bool


class GrpcRateLimit(msgspec.Struct, frozen=True):
    capacity: float
    refill_rate: float


class GrpcQueueStats(msgspec.Struct, frozen=True, kw_only=True):
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
    rate_limit: GrpcRateLimit | None
