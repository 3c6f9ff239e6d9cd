"""The REST API's JSON shapes (SPEC §3), shared by the server and the SDKs.

Payloads stay ``msgspec.Raw``: the server never decodes and re-encodes a job's payload.
Field constraints live here so that validation errors name the field
(``Expected `int` <= 9 - at `$.priority```) and the OpenAPI document is generated from
the same types.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, cast

import msgspec

from rivetq.models import RetryPolicy

__all__ = [
    "MAX_BATCH",
    "BackupRequest",
    "MAX_DELAY_MS",
    "MAX_HEADERS",
    "MAX_HEADERS_BYTES",
    "MAX_HEADER_NAME",
    "MAX_HEADER_VALUE",
    "MAX_INFLIGHT",
    "MAX_RATE",
    "MAX_WAIT_MS",
    "MIN_REFILL_RATE",
    "AckBatchRequest",
    "AckBatchResponse",
    "AckItem",
    "AckItemResult",
    "AckRequest",
    "ConcurrencyLimitBody",
    "ConcurrencyLimitView",
    "DeleteQueueRequest",
    "DeletedResponse",
    "EmptyRequest",
    "EnqueueBatchRequest",
    "EnqueueBatchResponse",
    "EnqueueRequest",
    "EnqueueResponse",
    "ErrorBody",
    "ErrorResponse",
    "ExtendRequest",
    "ExtendResponse",
    "JobListResponse",
    "JobView",
    "LeaseRequest",
    "LeaseResponse",
    "LeasedJob",
    "NackRequest",
    "NackResponse",
    "PurgedResponse",
    "QueueDeletedResponse",
    "QueueListResponse",
    "QueueStatsResponse",
    "QueueSummary",
    "RateLimitBody",
    "RateLimitView",
    "RequeueRequest",
    "RequeuedResponse",
    "RetryPolicyBody",
    "ScheduleBody",
    "ScheduleListResponse",
    "ScheduleView",
    "SuccessResponse",
    "rfc3339_text",
]

MAX_BATCH = 1000
MAX_RATE = 1e9
MIN_REFILL_RATE = 1e-9  # a token every ~32 years: every refill time stays a 64-bit millisecond count

MAX_DELAY_MS = 10 * 365 * 86_400_000  # ten years: keeps every eta a 64-bit millisecond count
Priority = Annotated[int, msgspec.Meta(ge=0, le=9)]
DelayMs = Annotated[int, msgspec.Meta(ge=0, le=MAX_DELAY_MS)]
Rfc3339 = Annotated[str, msgspec.Meta(extra_json_schema={"format": "date-time"})]  # with ms, UTC: ...T17:50:00.123Z
JobStateName = Literal["delayed", "ready", "inflight", "dead"]
MaxRetries = Annotated[int, msgspec.Meta(ge=0, le=1000)]
IdempotencyKey = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
VisibilityMs = Annotated[int, msgspec.Meta(ge=1, le=43_200_000)]
MAX_WAIT_MS = 20_000
WaitMs = Annotated[int, msgspec.Meta(ge=0, le=MAX_WAIT_MS)]
MaxJobs = Annotated[int, msgspec.Meta(ge=1, le=MAX_BATCH)]
Reason = Annotated[str, msgspec.Meta(max_length=65_536)]
MAX_INFLIGHT = 1_000_000
MAX_HEADERS = 64
MAX_HEADER_NAME = 256
MAX_HEADER_VALUE = 8192
MAX_HEADERS_BYTES = 16_384  # names and values together, in UTF-8
# Lengths are checked by the manager, whose errors name the header (msgspec's would not).
Headers = Annotated[
    dict[str, str],
    msgspec.Meta(
        max_length=MAX_HEADERS,
        description=(
            "String metadata carried with the job (e.g. W3C `traceparent`), returned by lease and lookups:"
            f" at most {MAX_HEADERS} entries, names of 1 to {MAX_HEADER_NAME} characters, values of at most"
            f" {MAX_HEADER_VALUE}, {MAX_HEADERS_BYTES} bytes in all."
        ),
    ),
]


class _Body(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Request bodies reject unknown fields so a typo is an error, not a silent default."""


class EmptyRequest(_Body):
    """The body of a call that takes no fields (pause, resume): ``{}``, or none at all."""


class EnqueueRequest(_Body, kw_only=True):
    payload: msgspec.Raw
    priority: Priority = 5
    delay_ms: DelayMs | None = None
    run_at: Rfc3339 | None = None  # exclusive with delay_ms
    max_retries: MaxRetries = 3
    idempotency_key: IdempotencyKey | None = None
    headers: Headers | None = None


class BackupRequest(_Body):
    """Where an online backup goes: an absolute directory path on the server's host (apart
    from its data directory) or s3://bucket/prefix."""

    dest: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]


class EnqueueResponse(msgspec.Struct, omit_defaults=True):
    job_id: str
    duplicate: bool = False


class EnqueueBatchRequest(_Body):
    jobs: Annotated[list[EnqueueRequest], msgspec.Meta(min_length=1, max_length=MAX_BATCH)]


class EnqueueBatchResponse(msgspec.Struct):
    job_ids: list[str]


class AckItem(_Body):
    job_id: Id
    lease_id: Id


class LeaseRequest(_Body, kw_only=True):
    """``acks``: jobs this worker has finished, acked in the same call (one round trip for
    "done with these, give me the next")."""

    max_jobs: MaxJobs = 1
    visibility_ms: VisibilityMs = 30_000
    wait_ms: WaitMs = 0
    acks: Annotated[list[AckItem], msgspec.Meta(max_length=MAX_BATCH)] | None = None


class LeasedJob(msgspec.Struct, kw_only=True):
    id: str
    queue: str
    payload: msgspec.Raw
    priority: int
    tries: int
    max_retries: int
    lease_id: str
    lease_expires_at: Rfc3339
    created_at: Rfc3339
    eta: Rfc3339
    idempotency_key: str | None
    headers: dict[str, str] = {}


class AckItemResult(msgspec.Struct, omit_defaults=True):
    """``error`` is the message, ``error_code`` the stable code (``lease_lost``, ...) that
    SDKs map to their error types."""

    job_id: str
    ok: bool
    error: str | None = None
    error_code: str | None = None


class LeaseResponse(msgspec.Struct, omit_defaults=True):
    """``acks``: one result per ack the request carried, in order (absent without acks)."""

    jobs: list[LeasedJob]
    acks: list[AckItemResult] | None = None


class AckRequest(_Body):
    job_id: Id
    lease_id: Id


class AckBatchRequest(_Body):
    acks: Annotated[list[AckItem], msgspec.Meta(min_length=1, max_length=MAX_BATCH)]


class AckBatchResponse(msgspec.Struct):
    results: list[AckItemResult]


class NackRequest(_Body, kw_only=True):
    job_id: Id
    lease_id: Id
    reason: Reason | None = None
    delay_ms: DelayMs | None = None


class NackResponse(msgspec.Struct):
    success: bool
    state: JobStateName


class ExtendRequest(_Body):
    job_id: Id
    lease_id: Id
    visibility_ms: VisibilityMs


class ExtendResponse(msgspec.Struct):
    lease_expires_at: Rfc3339


class SuccessResponse(msgspec.Struct):
    success: bool = True


class JobView(msgspec.Struct, kw_only=True):
    """A job as ``GET /v1/jobs/{id}`` and the job listings show it."""

    id: str
    queue: str
    payload: msgspec.Raw
    priority: int
    state: JobStateName
    tries: int
    max_retries: int
    eta: Rfc3339
    created_at: Rfc3339
    idempotency_key: str | None = None
    last_error: str | None = None
    lease_id: str | None = None
    lease_expires_at: Rfc3339 | None = None
    headers: dict[str, str] = {}


class JobListResponse(msgspec.Struct):
    jobs: list[JobView]
    next_cursor: str | None


class QueueSummary(msgspec.Struct):
    """A queue in ``GET /v1/queues``: counts by state now, and the lifetime totals (which
    a dashboard differentiates into rates without a stats call per queue)."""

    name: str
    ready: int
    delayed: int
    inflight: int
    dlq: int
    paused: bool
    enqueued_total: int = 0
    leased_total: int = 0
    acked_total: int = 0
    nacked_total: int = 0


class QueueListResponse(msgspec.Struct):
    """``queues``: the names, in name order, as the seed's clients decode them;
    ``summaries``: the same queues with their figures, for dashboards (one call whatever
    the number of queues)."""

    queues: list[str]
    summaries: list[QueueSummary]


class RateLimitBody(_Body):
    capacity: Annotated[float, msgspec.Meta(ge=1, le=MAX_RATE)]  # a job takes a whole token
    refill_rate: Annotated[float, msgspec.Meta(ge=MIN_REFILL_RATE, le=MAX_RATE)]  # tokens per second


class RateLimitView(msgspec.Struct):
    """A queue's rate limit, as ``GET rate_limit`` and ``stats`` show it: a queue without
    one has ``exists`` false, and ``capacity`` and ``refill_rate`` 0."""

    capacity: float
    refill_rate: float
    exists: bool


class ConcurrencyLimitBody(_Body):
    """At most ``max_inflight`` jobs of the queue leased at once, across workers and nodes."""

    max_inflight: Annotated[int, msgspec.Meta(ge=1, le=MAX_INFLIGHT)]


class ConcurrencyLimitView(msgspec.Struct):
    """``max_inflight`` is 0 when ``exists`` is false (no limit)."""

    max_inflight: int
    exists: bool


Jitter = Literal["equal", "full", "none"]


_DEFAULT_RETRY_POLICY = RetryPolicy()


class RetryPolicyBody(_Body, kw_only=True):
    """A queue's backoff after a failed attempt; omitted fields take their defaults. The
    reply is the policy in force, a ``rivetq.models.RetryPolicy``."""

    base_backoff_ms: DelayMs = _DEFAULT_RETRY_POLICY.base_backoff_ms
    multiplier: Annotated[float, msgspec.Meta(ge=1, le=100)] = _DEFAULT_RETRY_POLICY.multiplier
    max_backoff_ms: DelayMs = _DEFAULT_RETRY_POLICY.max_backoff_ms
    jitter: Jitter = cast(Jitter, _DEFAULT_RETRY_POLICY.jitter)


class QueueStatsResponse(msgspec.Struct, kw_only=True):
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
    rate_limit: RateLimitView
    concurrency_limit: ConcurrencyLimitView  # as GET concurrency_limit: exists false without one


class DeleteQueueRequest(_Body):
    """``force``: delete even while jobs are inflight (their acks then find no job)."""

    force: bool = False


class QueueDeletedResponse(msgspec.Struct):
    queue: str
    deleted_jobs: int


MIN_INTERVAL_MS = 1000
CatchUp = Literal["skip", "all"]


class ScheduleBody(_Body, kw_only=True):
    """A schedule's definition: ``cron`` (5 fields or ``@hourly``-style names, in
    ``timezone``) or ``interval_ms``, exactly one; the job fields of an enqueue; what to do
    with ticks missed while no node ran (``skip``: one run for the latest; ``all``: one each,
    up to 100)."""

    queue: str
    payload: msgspec.Raw
    cron: str | None = None
    interval_ms: Annotated[int, msgspec.Meta(ge=MIN_INTERVAL_MS, le=MAX_DELAY_MS)] | None = None
    timezone: str = "UTC"
    priority: Priority = 5
    max_retries: MaxRetries = 3
    headers: Headers | None = None
    catchup: CatchUp = "skip"
    paused: bool = False


class ScheduleView(msgspec.Struct, kw_only=True):
    name: str
    queue: str
    cron: str | None
    interval_ms: int | None
    timezone: str
    payload: msgspec.Raw
    priority: int
    max_retries: int
    headers: dict[str, str]
    catchup: str
    paused: bool
    created_at: Rfc3339
    next_run_at: Rfc3339
    last_run_at: Rfc3339 | None
    runs_total: int


class ScheduleListResponse(msgspec.Struct):
    schedules: list[ScheduleView]


class RequeueRequest(_Body):
    job_ids: Annotated[list[Id], msgspec.Meta(max_length=MAX_BATCH)] | None = None


class RequeuedResponse(msgspec.Struct):
    requeued: int


class PurgedResponse(msgspec.Struct):
    purged: int


class DeletedResponse(msgspec.Struct):
    success: bool
    job_id: str


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """``field`` names the request field an ``invalid_argument`` is about, when there is one
    (``priority``, ``jobs[3].payload``, ``queue``, the query parameter ``limit``)."""

    code: str
    message: str
    field: str | None = None


class ErrorResponse(msgspec.Struct):
    error: ErrorBody


def rfc3339_text(moment: datetime) -> str:
    """A time as the API writes it: RFC 3339 in UTC with milliseconds and ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
