"""Every API operation as a pure function from arguments to a ``Call`` (SPEC §3).

The sync and async clients expose these under the same names and signatures; they only
differ in how a ``Call`` is sent. Each function's docstring is the client method's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import msgspec

from rivetq import wire
from rivetq.client._base import Call, path_segment
from rivetq.client.models import (
    AckedLease,
    AckItemResult,
    Job,
    JobPage,
    JobSpec,
    QueueStats,
    QueueSummary,
    RateLimit,
    RetryPolicy,
    job_specs,
    payload_json,
    required_lease,
    run_at_text,
)
from rivetq.models import BackupResult

__all__ = [
    "ack",
    "ack_and_lease",
    "ack_batch",
    "backup",
    "cancel",
    "delete_rate_limit",
    "delete_retry_policy",
    "enqueue",
    "enqueue_batch",
    "extend",
    "get_job",
    "get_rate_limit",
    "get_retry_policy",
    "healthz",
    "lease",
    "list_dlq",
    "list_jobs",
    "list_queues",
    "delete_queue",
    "set_concurrency_limit",
    "get_concurrency_limit",
    "delete_concurrency_limit",
    "nack",
    "pause",
    "purge",
    "purge_dlq",
    "requeue_dlq",
    "resume",
    "set_rate_limit",
    "set_retry_policy",
    "stats",
]

_ENCODER = msgspec.json.Encoder()


class _Jobs(msgspec.Struct):
    jobs: list[Job]


class _Extended(msgspec.Struct):
    lease_expires_at: datetime


def _decoder_of(kind: type[Any]) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(kind)


T = TypeVar("T")
_ENQUEUED = _decoder_of(wire.EnqueueResponse)
_ENQUEUED_BATCH = _decoder_of(wire.EnqueueBatchResponse)
_LEASED = _decoder_of(_Jobs)
_ACKED_AND_LEASED = _decoder_of(AckedLease)
_ACKED_BATCH = _decoder_of(wire.AckBatchResponse)
_NACKED = _decoder_of(wire.NackResponse)
_EXTENDED = _decoder_of(_Extended)
_JOB = _decoder_of(Job)
_JOB_PAGE = _decoder_of(JobPage)
_QUEUES = _decoder_of(wire.QueueListResponse)
_STATS = _decoder_of(wire.QueueStatsResponse)
_RATE_LIMIT = _decoder_of(wire.RateLimitView)
_RETRY_POLICY = _decoder_of(RetryPolicy)
_PURGED = _decoder_of(wire.PurgedResponse)
_CONCURRENCY = _decoder_of(wire.ConcurrencyLimitView)
_QUEUE_DELETED = _decoder_of(wire.QueueDeletedResponse)
_REQUEUED = _decoder_of(wire.RequeuedResponse)


def _ignore(body: bytes) -> None:
    return None


def _queue_path(queue: str, suffix: str = "") -> str:
    return f"/v1/queues/{path_segment(queue, 'queue')}{suffix}"


def _job_path(job_id: str) -> str:
    return f"/v1/jobs/{path_segment(job_id, 'job_id')}"


def _enqueue_request(spec: JobSpec) -> wire.EnqueueRequest:
    return wire.EnqueueRequest(
        payload=msgspec.Raw(payload_json(spec)),
        priority=spec.priority,
        delay_ms=spec.delay_ms or None,
        run_at=run_at_text(spec),
        max_retries=spec.max_retries,
        idempotency_key=spec.idempotency_key,
        headers=spec.headers,
    )


def enqueue(
    queue: str,
    payload: Any,
    priority: int = 5,
    delay_ms: int = 0,
    max_retries: int = 3,
    idempotency_key: str | None = None,
    run_at: datetime | str | None = None,
    headers: dict[str, str] | None = None,
) -> Call[str]:
    """Enqueue one job and return its id (the first job's id for a duplicate idempotency key).
    ``headers`` travel with the job to its workers (e.g. ``{"traceparent": ...}``)."""
    spec = JobSpec(
        payload=payload,
        priority=priority,
        delay_ms=delay_ms,
        max_retries=max_retries,
        idempotency_key=idempotency_key,
        run_at=run_at,
        headers=headers,
    )
    return _enqueue_call(queue, spec, lambda body: _ENQUEUED.decode(body).job_id)


def enqueue_answer(queue: str, spec: JobSpec) -> Call[wire.EnqueueResponse]:
    """Enqueue one job; the server's whole answer, which says whether the idempotency key
    made it a duplicate."""
    return _enqueue_call(queue, spec, _ENQUEUED.decode)


def _enqueue_call(queue: str, spec: JobSpec, parse: Callable[[bytes], T]) -> Call[T]:
    return Call(
        "POST",
        _queue_path(queue, "/enqueue"),
        parse,
        body=_ENCODER.encode(_enqueue_request(spec)),
        retry_safe=spec.idempotency_key is not None,
    )


def enqueue_batch(queue: str, jobs: Iterable[JobSpec | Mapping[str, Any]]) -> Call[list[str]]:
    """Enqueue jobs atomically (all or none); ``jobs`` are ``JobSpec``s or dicts of its fields."""
    specs = job_specs(jobs)
    return Call(
        "POST",
        _queue_path(queue, "/enqueue_batch"),
        lambda body: _ENQUEUED_BATCH.decode(body).job_ids,
        body=_ENCODER.encode(wire.EnqueueBatchRequest(jobs=[_enqueue_request(spec) for spec in specs])),
        retry_safe=bool(specs) and all(spec.idempotency_key is not None for spec in specs),
    )


def lease(queue: str, max_jobs: int = 1, visibility_ms: int = 30_000, wait_ms: int = 0) -> Call[list[Job]]:
    """Lease up to ``max_jobs`` ready jobs for ``visibility_ms``; ``wait_ms`` > 0 long-polls."""
    request = wire.LeaseRequest(max_jobs=max_jobs, visibility_ms=visibility_ms, wait_ms=wait_ms)
    return Call(
        "POST",
        _queue_path(queue, "/lease"),
        lambda body: _LEASED.decode(body).jobs,
        body=_ENCODER.encode(request),
        extra_timeout_s=wait_ms / 1000,
    )


def ack_and_lease(
    acks: Iterable[tuple[str, str | None]],
    queue: str,
    max_jobs: int = 1,
    visibility_ms: int = 30_000,
    wait_ms: int = 0,
) -> Call[AckedLease]:
    """Ack finished ``(job_id, lease_id)`` pairs (each stands alone, as in ``ack_batch``)
    and lease the next jobs, in one round trip (and usually one fsync)."""
    request = wire.LeaseRequest(max_jobs=max_jobs, visibility_ms=visibility_ms, wait_ms=wait_ms, acks=_ack_items(acks))
    return Call(
        "POST",
        _queue_path(queue, "/lease"),
        _ACKED_AND_LEASED.decode,
        body=_ENCODER.encode(request),
        extra_timeout_s=wait_ms / 1000,
    )


def ack(job_id: str, lease_id: str | None) -> Call[None]:
    """Mark a leased job done (it is removed). ``LeaseLost`` if the lease is not current."""
    request = wire.AckRequest(job_id, required_lease(lease_id))
    return Call("POST", "/v1/ack", _ignore, body=_ENCODER.encode(request))


def ack_batch(acks: Iterable[tuple[str, str | None]]) -> Call[list[AckItemResult]]:
    """Ack many ``(job_id, lease_id)`` pairs; each stands alone (see each result's ``ok``)."""
    return Call(
        "POST",
        "/v1/ack_batch",
        lambda body: _ACKED_BATCH.decode(body).results,
        body=_ENCODER.encode(wire.AckBatchRequest(acks=_ack_items(acks))),
    )


def _ack_items(acks: Iterable[tuple[str, str | None]]) -> list[wire.AckItem]:
    return [wire.AckItem(job_id, required_lease(lease_id)) for job_id, lease_id in acks]


def nack(job_id: str, lease_id: str | None, reason: str | None = None, delay_ms: int | None = None) -> Call[str]:
    """Report a failed attempt; returns the job's new state: ``delayed``, ``ready`` or ``dead``."""
    request = wire.NackRequest(job_id=job_id, lease_id=required_lease(lease_id), reason=reason, delay_ms=delay_ms)
    return Call("POST", "/v1/nack", lambda body: _NACKED.decode(body).state, body=_ENCODER.encode(request))


def extend(job_id: str, lease_id: str | None, visibility_ms: int) -> Call[datetime]:
    """Renew a lease for ``visibility_ms`` from now; returns the new expiry."""
    return Call(
        "POST",
        "/v1/extend",
        lambda body: _EXTENDED.decode(body).lease_expires_at,
        body=_ENCODER.encode(wire.ExtendRequest(job_id, required_lease(lease_id), visibility_ms)),
        retry_safe=True,
    )


def get_job(job_id: str) -> Call[Job]:
    """Look a job up, with its current ``state``. ``JobNotFound`` if there is none."""
    return Call("GET", _job_path(job_id), _JOB.decode, retry_safe=True)


def cancel(job_id: str) -> Call[None]:
    """Delete a job that is not inflight (``StateConflict`` if it is)."""
    return Call("DELETE", _job_path(job_id), _ignore)


def list_queues() -> Call[list[QueueSummary]]:
    """Every queue with its counts by state and whether it is paused."""
    return Call("GET", "/v1/queues", lambda body: _QUEUES.decode(body).summaries, retry_safe=True)


def _stats_of(body: bytes) -> QueueStats:
    stats = _STATS.decode(body)
    limits = {
        "rate_limit": _rate_limit_of(stats.rate_limit),
        "concurrency_limit": stats.concurrency_limit.max_inflight if stats.concurrency_limit.exists else None,
    }
    return QueueStats(**{**msgspec.structs.asdict(stats), **limits})


def stats(queue: str) -> Call[QueueStats]:
    """Counts, counters and settings of one queue."""
    return Call("GET", _queue_path(queue, "/stats"), _stats_of, retry_safe=True)


def _page_params(limit: int, cursor: str | None, state: str | None = None) -> dict[str, str]:
    params = {"limit": str(limit)}
    if cursor is not None:
        params["cursor"] = cursor
    if state is not None:
        params["state"] = state
    return params


def list_jobs(queue: str, state: str | None = None, limit: int = 100, cursor: str | None = None) -> Call[JobPage]:
    """One page of a queue's jobs, optionally of one state (ready, delayed, inflight, dead)."""
    params = _page_params(limit, cursor, state)
    return Call("GET", _queue_path(queue, "/jobs"), _JOB_PAGE.decode, params=params, retry_safe=True)


def set_rate_limit(queue: str, capacity: float, refill_rate: float) -> Call[None]:
    """Limit dispatch to a token bucket of ``capacity`` tokens refilled at ``refill_rate``/s."""
    body = _ENCODER.encode(wire.RateLimitBody(capacity=capacity, refill_rate=refill_rate))
    return Call("POST", _queue_path(queue, "/rate_limit"), _ignore, body=body, retry_safe=True)


def _rate_limit_of(view: wire.RateLimitView) -> RateLimit | None:
    return RateLimit(capacity=view.capacity, refill_rate=view.refill_rate) if view.exists else None


def get_rate_limit(queue: str) -> Call[RateLimit | None]:
    """The queue's rate limit, or None when it has none."""
    return Call(
        "GET", _queue_path(queue, "/rate_limit"), lambda body: _rate_limit_of(_RATE_LIMIT.decode(body)), retry_safe=True
    )


def delete_rate_limit(queue: str) -> Call[None]:
    """Remove the queue's rate limit."""
    return Call("DELETE", _queue_path(queue, "/rate_limit"), _ignore, retry_safe=True)


def set_concurrency_limit(queue: str, max_inflight: int) -> Call[None]:
    """At most ``max_inflight`` jobs of the queue leased at once, across workers and nodes."""
    body = _ENCODER.encode(wire.ConcurrencyLimitBody(max_inflight=max_inflight))
    return Call("POST", _queue_path(queue, "/concurrency_limit"), _ignore, body=body, retry_safe=True)


def get_concurrency_limit(queue: str) -> Call[int | None]:
    """The queue's concurrency limit, or None when it has none."""
    path = _queue_path(queue, "/concurrency_limit")
    return Call("GET", path, lambda body: _max_inflight_of(_CONCURRENCY.decode(body)), retry_safe=True)


def _max_inflight_of(view: wire.ConcurrencyLimitView) -> int | None:
    return view.max_inflight if view.exists else None


def delete_concurrency_limit(queue: str) -> Call[None]:
    """Remove the queue's concurrency limit."""
    return Call("DELETE", _queue_path(queue, "/concurrency_limit"), _ignore, retry_safe=True)


def set_retry_policy(
    queue: str,
    *,
    base_backoff_ms: int | None = None,
    multiplier: float | None = None,
    max_backoff_ms: int | None = None,
    jitter: str | None = None,
) -> Call[RetryPolicy]:
    """Set the queue's backoff after a failed attempt, ``min(max_backoff_ms, base_backoff_ms *
    multiplier^(tries-1))`` with ``jitter`` ``equal``, ``full`` or ``none``; fields left None
    take the defaults (not their current values). Returns the policy now in force."""
    given = {
        "base_backoff_ms": base_backoff_ms,
        "multiplier": multiplier,
        "max_backoff_ms": max_backoff_ms,
        "jitter": jitter,
    }
    body = _ENCODER.encode({field: value for field, value in given.items() if value is not None})
    return Call("POST", _queue_path(queue, "/retry_policy"), _RETRY_POLICY.decode, body=body, retry_safe=True)


def get_retry_policy(queue: str) -> Call[RetryPolicy]:
    """The queue's retry backoff: the defaults until one is set."""
    return Call("GET", _queue_path(queue, "/retry_policy"), _RETRY_POLICY.decode, retry_safe=True)


def delete_retry_policy(queue: str) -> Call[None]:
    """Restore the default retry backoff of the queue."""
    return Call("DELETE", _queue_path(queue, "/retry_policy"), _ignore, retry_safe=True)


def pause(queue: str) -> Call[None]:
    """Stop handing out the queue's jobs (leases return nothing) until ``resume``."""
    return Call("POST", _queue_path(queue, "/pause"), _ignore, body=b"{}", retry_safe=True)


def resume(queue: str) -> Call[None]:
    """Hand out the queue's jobs again."""
    return Call("POST", _queue_path(queue, "/resume"), _ignore, body=b"{}", retry_safe=True)


def purge(queue: str) -> Call[int]:
    """Delete all of the queue's jobs; returns how many."""
    return Call("DELETE", _queue_path(queue), lambda body: _PURGED.decode(body).purged)


def delete_queue(queue: str, force: bool = False) -> Call[int]:
    """Remove the queue entirely (jobs, DLQ, settings, counters, metrics series); returns
    how many jobs went. ``StateConflict`` while jobs are inflight unless ``force``."""
    body = _ENCODER.encode(wire.DeleteQueueRequest(force=force))
    path = _queue_path(queue, "/delete")
    return Call("POST", path, lambda reply: _QUEUE_DELETED.decode(reply).deleted_jobs, body=body)


def list_dlq(queue: str, limit: int = 100, cursor: str | None = None) -> Call[JobPage]:
    """One page of the queue's dead letter queue (jobs with their ``last_error``)."""
    params = _page_params(limit, cursor)
    return Call("GET", _queue_path(queue, "/dlq"), _JOB_PAGE.decode, params=params, retry_safe=True)


def requeue_dlq(queue: str, job_ids: Iterable[str] | None = None) -> Call[int]:
    """Make dead jobs ready again with ``tries`` reset (all when ``job_ids`` is None)."""
    request = wire.RequeueRequest(job_ids=None if job_ids is None else list(job_ids))
    return Call(
        "POST",
        _queue_path(queue, "/dlq/requeue"),
        lambda body: _REQUEUED.decode(body).requeued,
        body=_ENCODER.encode(request),
    )


def purge_dlq(queue: str) -> Call[int]:
    """Delete every job in the queue's dead letter queue; returns how many."""
    return Call("DELETE", _queue_path(queue, "/dlq"), lambda body: _PURGED.decode(body).purged)


_BACKUP = msgspec.json.Decoder(BackupResult)
_BACKUP_TIMEOUT_S = 3600.0  # a large store takes a while to copy


def backup(dest: str) -> Call[BackupResult]:
    """Write an online backup (a snapshot plus the WAL after it) to ``dest``: a directory
    on the server's host or ``s3://bucket/prefix`` (admin; the embedded engine only)."""
    request = wire.BackupRequest(dest=dest)
    body = _ENCODER.encode(request)
    return Call("POST", "/v1/admin/backup", _BACKUP.decode, body=body, extra_timeout_s=_BACKUP_TIMEOUT_S)


def healthz() -> Call[bool]:
    """True when the server answers its liveness check (errors raise)."""
    return Call("GET", "/healthz", lambda body: True, retry_safe=True)
