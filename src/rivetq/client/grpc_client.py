"""``GrpcClient``: the RivetQ API over gRPC (``pip install 'rivetq[grpc]'``), with the
methods, arguments and return values of ``rivetq.Client`` plus ``stream_lease``.

Errors are the ``rivetq.errors`` classes, rebuilt from the stable code the server sends in
the ``rivetq-error-code`` trailer (with ``.field`` from ``rivetq-error-field``); an
unreachable server is ``ConnectionFailed``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Final, Literal, TypeVar

import grpc

from rivetq.client.grpc_convert import (
    ack_result_from,
    build,
    enqueue_message,
    job_from,
    page_from,
    retry_policy_from,
    schedule_from,
    state_name,
    state_value,
    stats_from,
    summary_from,
    time_from,
)
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
    Schedule,
    job_specs,
    payload_json,
    required_lease,
)
from rivetq.errors import ConnectionFailed, RivetQError, error_for_code
from rivetq.models import BackupResult
from rivetq.server.grpc._pb import rivetq_pb2 as pb
from rivetq.server.grpc._pb import rivetq_pb2_grpc as pb_grpc

__all__ = ["GrpcClient"]

Response = TypeVar("Response")

_BACKUP_TIMEOUT_S: Final = 3600.0  # a large store takes a while to copy

_CODE_WITHOUT_TRAILER: Final = {
    grpc.StatusCode.RESOURCE_EXHAUSTED: "payload_too_large",  # over the transport's message limit
    grpc.StatusCode.UNAUTHENTICATED: "unauthenticated",
    grpc.StatusCode.INVALID_ARGUMENT: "invalid_argument",
}


def _error(call: grpc.RpcError, target: str) -> RivetQError:
    """The RivetQ error a failed call stands for; one that never reached the server
    names the ``target`` it tried."""
    status, details = call.code(), call.details() or ""
    trailers = {item.key: item.value for item in call.trailing_metadata() or ()}
    code = trailers.get("rivetq-error-code") or _CODE_WITHOUT_TRAILER.get(status)
    if code is not None:
        error = error_for_code(str(code), details)
        field = trailers.get("rivetq-error-field")
        error.field = None if field is None else str(field)
        return error
    if status in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return ConnectionFailed(f"no answer from the RivetQ gRPC server at {target}: {status.name}: {details}")
    return RivetQError(f"gRPC {status.name}: {details}")


class GrpcClient:
    """A blocking client on one gRPC channel; safe to share between threads."""

    def __init__(
        self,
        target: str = "127.0.0.1:9090",
        *,
        token: str | None = None,
        tls: bool = False,
        root_certificates: bytes | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._target = target
        options = [("grpc.max_receive_message_length", -1)]
        if tls or root_certificates is not None:
            credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self._channel = grpc.secure_channel(target, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        self._stub = pb_grpc.RivetQStub(self._channel)  # type: ignore[no-untyped-call]
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._timeout_s = timeout

    def close(self) -> None:
        """Close the channel; calls after this fail."""
        self._channel.close()

    def __enter__(self) -> GrpcClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _call(self, method: Callable[..., Response], request: Any, extra_timeout_s: float = 0.0) -> Response:
        try:
            return method(request, metadata=self._metadata, timeout=self._timeout_s + extra_timeout_s)
        except grpc.RpcError as call:
            raise _error(call, self._target) from None

    # -- jobs -----------------------------------------------------------------

    def enqueue(
        self,
        queue: str,
        payload: Any,
        priority: int = 5,
        delay_ms: int = 0,
        max_retries: int = 3,
        idempotency_key: str | None = None,
        run_at: datetime | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> str:
        """Enqueue one job and return its id (the first job's id for a duplicate idempotency
        key). ``msgspec.Raw`` sends JSON you already have as bytes untouched; ``headers``
        travel with the job to its workers."""
        spec = JobSpec(
            payload=payload,
            priority=priority,
            delay_ms=delay_ms,
            max_retries=max_retries,
            idempotency_key=idempotency_key,
            run_at=run_at,
            headers=headers,
        )
        request = enqueue_message(spec)
        request.queue = queue
        job_id: str = self._call(self._stub.Enqueue, request).job_id
        return job_id

    def enqueue_batch(self, queue: str, jobs: Iterable[JobSpec | Mapping[str, Any]]) -> list[str]:
        """Enqueue jobs atomically (all or none); ``jobs`` are ``JobSpec``s or dicts of its fields."""
        specs = job_specs(jobs)
        messages = [enqueue_message(spec, f"jobs[{i}].") for i, spec in enumerate(specs)]
        request = pb.EnqueueBatchRequest(queue=queue, jobs=messages)
        return list(self._call(self._stub.EnqueueBatch, request).job_ids)

    def lease(self, queue: str, max_jobs: int = 1, visibility_ms: int = 30_000, wait_ms: int = 0) -> list[Job]:
        """Lease up to ``max_jobs`` ready jobs for ``visibility_ms``; ``wait_ms`` > 0 long-polls."""
        return self.ack_and_lease((), queue, max_jobs, visibility_ms, wait_ms).jobs

    def ack_and_lease(
        self,
        acks: Iterable[tuple[str, str | None]],
        queue: str,
        max_jobs: int = 1,
        visibility_ms: int = 30_000,
        wait_ms: int = 0,
    ) -> AckedLease:
        """Ack finished ``(job_id, lease_id)`` pairs (each stands alone, as in ``ack_batch``)
        and lease the next jobs, in one round trip (and usually one fsync)."""
        request = build(
            pb.LeaseRequest,
            queue=queue,
            max_jobs=max_jobs,
            visibility_ms=visibility_ms,
            wait_ms=wait_ms,
            acks=_ack_items(acks),
        )
        reply = self._call(self._stub.Lease, request, wait_ms / 1000)
        return AckedLease(acks=[ack_result_from(r) for r in reply.acks], jobs=[job_from(job) for job in reply.jobs])

    def stream_lease(self, queue: str, max_unacked: int = 1, visibility_ms: int = 30_000) -> Iterator[Job]:
        """Jobs as they become ready, at most ``max_unacked`` unacked at a time (ack or nack
        each with this client). Leaving the loop ends the stream; jobs not acked by then
        return to the queue when their leases expire."""
        request = build(pb.StreamLeaseRequest, queue=queue, max_unacked=max_unacked, visibility_ms=visibility_ms)
        call = self._stub.StreamLease(request, metadata=self._metadata)
        try:
            for message in call:
                yield from (job_from(job) for job in message.jobs)
        except grpc.RpcError as failed:
            raise _error(failed, self._target) from None
        finally:
            call.cancel()

    def ack(self, job_id: str, lease_id: str | None) -> None:
        """Mark a leased job done (it is removed). ``LeaseLost`` if the lease is not current."""
        self._call(self._stub.Ack, pb.AckRequest(job_id=job_id, lease_id=required_lease(lease_id)))

    def ack_batch(self, acks: Iterable[tuple[str, str | None]]) -> list[AckItemResult]:
        """Ack many ``(job_id, lease_id)`` pairs; each stands alone (see each result's ``ok``)."""
        results = self._call(self._stub.AckBatch, pb.AckBatchRequest(acks=_ack_items(acks))).results
        return [ack_result_from(result) for result in results]

    def nack(self, job_id: str, lease_id: str | None, reason: str | None = None, delay_ms: int | None = None) -> str:
        """Report a failed attempt; returns the job's new state: ``delayed``, ``ready`` or ``dead``."""
        lease = required_lease(lease_id)
        request = build(pb.NackRequest, job_id=job_id, lease_id=lease, reason=reason, delay_ms=delay_ms)
        return state_name(self._call(self._stub.Nack, request).state)

    def extend(self, job_id: str, lease_id: str | None, visibility_ms: int) -> datetime:
        """Renew a lease for ``visibility_ms`` from now; returns the new expiry."""
        lease = required_lease(lease_id)
        request = build(pb.ExtendRequest, job_id=job_id, lease_id=lease, visibility_ms=visibility_ms)
        return time_from(self._call(self._stub.Extend, request).lease_expires_at_ms)

    def get_job(self, job_id: str) -> Job:
        """Look a job up, with its current ``state``. ``JobNotFound`` if there is none."""
        return job_from(self._call(self._stub.GetJob, pb.GetJobRequest(job_id=job_id)).job)

    def cancel(self, job_id: str) -> None:
        """Delete a job that is not inflight (``StateConflict`` if it is)."""
        self._call(self._stub.CancelJob, pb.CancelJobRequest(job_id=job_id))

    # -- queues ---------------------------------------------------------------

    def list_queues(self) -> list[QueueSummary]:
        """Every queue with its counts by state and whether it is paused."""
        return [summary_from(queue) for queue in self._call(self._stub.ListQueues, pb.ListQueuesRequest()).queues]

    def stats(self, queue: str) -> QueueStats:
        """Counts, counters and settings of one queue."""
        return stats_from(self._call(self._stub.Stats, pb.StatsRequest(queue=queue)))

    def list_jobs(self, queue: str, state: str | None = None, limit: int = 100, cursor: str | None = None) -> JobPage:
        """One page of a queue's jobs, optionally of one state (ready, delayed, inflight, dead)."""
        request = build(pb.ListJobsRequest, queue=queue, state=state_value(state), limit=limit, cursor=cursor)
        return page_from(self._call(self._stub.ListJobs, request))

    def set_rate_limit(self, queue: str, capacity: float, refill_rate: float) -> None:
        """Limit dispatch to a token bucket of ``capacity`` tokens refilled at ``refill_rate``/s."""
        limit = build(pb.RateLimit, capacity=capacity, refill_rate=refill_rate)
        self._call(self._stub.SetRateLimit, pb.SetRateLimitRequest(queue=queue, rate_limit=limit))

    def get_rate_limit(self, queue: str) -> RateLimit | None:
        """The queue's rate limit, or None when it has none."""
        response = self._call(self._stub.GetRateLimit, pb.GetRateLimitRequest(queue=queue))
        if not response.exists:
            return None
        return RateLimit(capacity=response.rate_limit.capacity, refill_rate=response.rate_limit.refill_rate)

    def delete_rate_limit(self, queue: str) -> None:
        """Remove the queue's rate limit (dispatch is unlimited again)."""
        self._call(self._stub.DeleteRateLimit, pb.DeleteRateLimitRequest(queue=queue))

    def set_concurrency_limit(self, queue: str, max_inflight: int) -> None:
        """At most ``max_inflight`` jobs of the queue leased at once, across workers and nodes."""
        request = build(pb.SetConcurrencyLimitRequest, queue=queue, max_inflight=max_inflight)
        self._call(self._stub.SetConcurrencyLimit, request)

    def get_concurrency_limit(self, queue: str) -> int | None:
        """The queue's concurrency limit, or None when it has none."""
        response = self._call(self._stub.GetConcurrencyLimit, pb.GetConcurrencyLimitRequest(queue=queue))
        return int(response.max_inflight) if response.exists else None

    def delete_concurrency_limit(self, queue: str) -> None:
        """Remove the queue's concurrency limit."""
        self._call(self._stub.DeleteConcurrencyLimit, pb.DeleteConcurrencyLimitRequest(queue=queue))

    def put_schedule(
        self,
        name: str,
        queue: str,
        payload: Any,
        *,
        cron: str | None = None,
        interval_ms: int | None = None,
        timezone: str = "UTC",
        priority: int = 5,
        max_retries: int = 3,
        headers: dict[str, str] | None = None,
        catchup: Literal["skip", "all"] = "skip",
        paused: bool = False,
    ) -> Schedule:
        """Create or replace the schedule ``name`` (see ``Client.put_schedule``)."""
        request = build(
            pb.PutScheduleRequest,
            name=name,
            queue=queue,
            payload=payload_json(JobSpec(payload=payload)),
            cron=cron,
            interval_ms=interval_ms,
            timezone=timezone,
            priority=priority,
            max_retries=max_retries,
            headers=headers,
            catchup=catchup,
            paused=paused,
        )
        return schedule_from(self._call(self._stub.PutSchedule, request).schedule)

    def get_schedule(self, name: str) -> Schedule:
        return schedule_from(self._call(self._stub.GetSchedule, pb.ScheduleRef(name=name)).schedule)

    def list_schedules(self) -> list[Schedule]:
        reply = self._call(self._stub.ListSchedules, pb.ListSchedulesRequest())
        return [schedule_from(schedule) for schedule in reply.schedules]

    def delete_schedule(self, name: str) -> None:
        self._call(self._stub.DeleteSchedule, pb.ScheduleRef(name=name))

    def pause_schedule(self, name: str) -> Schedule:
        return schedule_from(self._call(self._stub.PauseSchedule, pb.ScheduleRef(name=name)).schedule)

    def resume_schedule(self, name: str) -> Schedule:
        return schedule_from(self._call(self._stub.ResumeSchedule, pb.ScheduleRef(name=name)).schedule)

    def run_schedule(self, name: str) -> str:
        """Enqueue the schedule's job now; returns the job's id."""
        job_id: str = self._call(self._stub.RunSchedule, pb.ScheduleRef(name=name)).job_id
        return job_id

    def set_retry_policy(
        self,
        queue: str,
        *,
        base_backoff_ms: int | None = None,
        multiplier: float | None = None,
        max_backoff_ms: int | None = None,
        jitter: str | None = None,
    ) -> RetryPolicy:
        """Set the queue's backoff after a failed attempt, ``min(max_backoff_ms, base_backoff_ms *
        multiplier^(tries-1))`` with ``jitter`` ``equal``, ``full`` or ``none``; fields left None
        take the defaults (not their current values). Returns the policy now in force."""
        policy = build(
            pb.RetryPolicy,
            base_backoff_ms=base_backoff_ms,
            multiplier=multiplier,
            max_backoff_ms=max_backoff_ms,
            jitter=jitter,
        )
        request = pb.SetRetryPolicyRequest(queue=queue, retry_policy=policy)
        return retry_policy_from(self._call(self._stub.SetRetryPolicy, request).retry_policy)

    def get_retry_policy(self, queue: str) -> RetryPolicy:
        """The queue's retry backoff: the defaults until one is set."""
        request = pb.GetRetryPolicyRequest(queue=queue)
        return retry_policy_from(self._call(self._stub.GetRetryPolicy, request).retry_policy)

    def delete_retry_policy(self, queue: str) -> None:
        """Restore the default retry backoff of the queue."""
        self._call(self._stub.ResetRetryPolicy, pb.ResetRetryPolicyRequest(queue=queue))

    def pause(self, queue: str) -> None:
        """Stop handing out the queue's jobs (leases return nothing) until ``resume``."""
        self._call(self._stub.Pause, pb.PauseRequest(queue=queue))

    def resume(self, queue: str) -> None:
        """Hand out the queue's jobs again after ``pause``."""
        self._call(self._stub.Resume, pb.ResumeRequest(queue=queue))

    def purge(self, queue: str) -> int:
        """Delete all of the queue's jobs; returns how many."""
        purged: int = self._call(self._stub.PurgeQueue, pb.PurgeQueueRequest(queue=queue)).purged
        return purged

    def delete_queue(self, queue: str, force: bool = False) -> int:
        """Remove the queue entirely (jobs, DLQ, settings, counters, metrics series); returns
        how many jobs went. ``StateConflict`` while jobs are inflight unless ``force``."""
        request = build(pb.DeleteQueueRequest, queue=queue, force=force)
        deleted: int = self._call(self._stub.DeleteQueue, request).deleted_jobs
        return deleted

    # -- dead letter queue ----------------------------------------------------

    def list_dlq(self, queue: str, limit: int = 100, cursor: str | None = None) -> JobPage:
        """One page of the queue's dead letter queue (jobs with their ``last_error``)."""
        request = build(pb.ListDLQRequest, queue=queue, limit=limit, cursor=cursor)
        return page_from(self._call(self._stub.ListDLQ, request))

    def requeue_dlq(self, queue: str, job_ids: Iterable[str] | None = None) -> int:
        """Make dead jobs ready again with ``tries`` reset (all when ``job_ids`` is None)."""
        ids = [] if job_ids is None else list(job_ids)
        request = pb.RequeueDLQRequest(queue=queue, job_ids=ids, all=job_ids is None)
        requeued: int = self._call(self._stub.RequeueDLQ, request).requeued
        return requeued

    def purge_dlq(self, queue: str) -> int:
        """Delete every job in the queue's dead letter queue; returns how many."""
        purged: int = self._call(self._stub.PurgeDLQ, pb.PurgeDLQRequest(queue=queue)).purged
        return purged

    # -- admin ------------------------------------------------------------------

    def backup(self, dest: str) -> BackupResult:
        """Write an online backup (a snapshot plus the WAL after it) to ``dest``: a directory
        on the server's host or ``s3://bucket/prefix`` (admin; the embedded engine only)."""
        reply = self._call(self._stub.Backup, pb.BackupRequest(dest=dest), extra_timeout_s=_BACKUP_TIMEOUT_S)
        return BackupResult(url=reply.url, snapshot_lsn=reply.snapshot_lsn, last_lsn=reply.last_lsn)


def _ack_items(acks: Iterable[tuple[str, str | None]]) -> list[pb.AckItem]:
    return [pb.AckItem(job_id=job_id, lease_id=required_lease(lease_id)) for job_id, lease_id in acks]
