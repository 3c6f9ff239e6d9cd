"""``GrpcClient``: the RivetQ API over gRPC (``pip install 'rivetq[grpc]'``), with the
method names of the REST SDK plus ``stream_lease``.

Payloads are any JSON-encodable value (``msgspec.Raw`` passes pre-encoded JSON through
untouched); jobs come back with the payload decoded and its exact bytes in
``raw_payload``. Errors are the ``rivetq.errors`` classes, rebuilt from the stable code
the server sends in the ``rivetq-error-code`` trailer."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, Final, TypeVar

import grpc

from rivetq.client.grpc_convert import enqueue_message, job_from, page_from, stats_from, summary_from
from rivetq.client.grpc_types import (
    GrpcAckResult,
    GrpcJob,
    GrpcJobPage,
    GrpcQueueStats,
    GrpcQueueSummary,
    GrpcRateLimit,
)
from rivetq.errors import RivetQError, error_for_code
from rivetq.server.grpc._pb import rivetq_pb2 as pb
from rivetq.server.grpc._pb import rivetq_pb2_grpc as pb_grpc

__all__ = ["GrpcClient"]

Response = TypeVar("Response")

_CODE_WITHOUT_TRAILER: Final = {
    grpc.StatusCode.RESOURCE_EXHAUSTED: "payload_too_large",  # over the transport's message limit
    grpc.StatusCode.UNAUTHENTICATED: "unauthenticated",
    grpc.StatusCode.INVALID_ARGUMENT: "invalid_argument",
}


def _error(call: grpc.RpcError) -> RivetQError:
    """The RivetQ error a failed call stands for."""
    status, details = call.code(), call.details() or ""
    trailers = {item.key: item.value for item in call.trailing_metadata() or ()}
    code = trailers.get("rivetq-error-code") or _CODE_WITHOUT_TRAILER.get(status)
    if code is None:
        return RivetQError(f"gRPC {status.name}: {details}")
    return error_for_code(str(code), details)


class GrpcClient:
    """A blocking client on one gRPC channel; safe to share between threads."""

    def __init__(
        self,
        target: str = "127.0.0.1:9090",
        *,
        token: str | None = None,
        tls: bool = False,
        root_certificates: bytes | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        options = [("grpc.max_receive_message_length", -1)]
        if tls or root_certificates is not None:
            credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self._channel = grpc.secure_channel(target, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        self._stub = pb_grpc.RivetQStub(self._channel)  # type: ignore[no-untyped-call]
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._timeout_s = timeout_s

    def close(self) -> None:
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
            raise _error(call) from None

    # -- jobs -----------------------------------------------------------------

    def enqueue(
        self,
        queue: str,
        payload: Any,
        *,
        priority: int | None = None,
        delay_ms: int | None = None,
        run_at: str | None = None,
        max_retries: int | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        """The new job's id (the first job's id when ``idempotency_key`` was seen before)."""
        request = enqueue_message(
            payload,
            queue=queue,
            priority=priority,
            delay_ms=delay_ms,
            run_at=run_at,
            max_retries=max_retries,
            idempotency_key=idempotency_key,
        )
        job_id: str = self._call(self._stub.Enqueue, request).job_id
        return job_id

    def enqueue_batch(self, queue: str, jobs: Sequence[dict[str, Any]]) -> list[str]:
        """All or none; each entry holds ``payload`` and the options of ``enqueue``."""
        request = pb.EnqueueBatchRequest(queue=queue, jobs=[enqueue_message(**job) for job in jobs])
        return list(self._call(self._stub.EnqueueBatch, request).job_ids)

    def lease(self, queue: str, *, max_jobs: int = 1, visibility_ms: int = 30_000, wait_ms: int = 0) -> list[GrpcJob]:
        request = pb.LeaseRequest(queue=queue, max_jobs=max_jobs, visibility_ms=visibility_ms, wait_ms=wait_ms)
        return [job_from(job) for job in self._call(self._stub.Lease, request, wait_ms / 1000).jobs]

    def stream_lease(self, queue: str, *, max_unacked: int = 1, visibility_ms: int = 30_000) -> Iterator[GrpcJob]:
        """Jobs as they become ready, at most ``max_unacked`` unacked at a time (ack or nack
        each with this client). Leaving the loop ends the stream; jobs not acked by then
        return to the queue when their leases expire."""
        request = pb.StreamLeaseRequest(queue=queue, max_unacked=max_unacked, visibility_ms=visibility_ms)
        call = self._stub.StreamLease(request, metadata=self._metadata)
        try:
            for message in call:
                yield from (job_from(job) for job in message.jobs)
        except grpc.RpcError as failed:
            raise _error(failed) from None
        finally:
            call.cancel()

    def ack(self, job_id: str, lease_id: str) -> None:
        self._call(self._stub.Ack, pb.AckRequest(job_id=job_id, lease_id=lease_id))

    def ack_batch(self, acks: Sequence[tuple[str, str]]) -> list[GrpcAckResult]:
        """Each (job_id, lease_id) acked on its own; failures are reported, not raised."""
        items = [pb.AckItem(job_id=job_id, lease_id=lease_id) for job_id, lease_id in acks]
        results = self._call(self._stub.AckBatch, pb.AckBatchRequest(acks=items)).results
        return [
            GrpcAckResult(r.job_id, r.ok, r.error_code if r.HasField("error_code") else None, r.error or None)
            for r in results
        ]

    def nack(self, job_id: str, lease_id: str, *, reason: str | None = None, delay_ms: int | None = None) -> str:
        """The job's state after the failed attempt: ``delayed``, ``ready`` or ``dead``."""
        request = pb.NackRequest(job_id=job_id, lease_id=lease_id, reason=reason, delay_ms=delay_ms)
        state = self._call(self._stub.Nack, request).state
        return str(pb.JobState.Name(state).removeprefix("JOB_STATE_").lower())

    def extend(self, job_id: str, lease_id: str, visibility_ms: int) -> int:
        """The new ``lease_expires_at_ms``."""
        request = pb.ExtendRequest(job_id=job_id, lease_id=lease_id, visibility_ms=visibility_ms)
        expires_at_ms: int = self._call(self._stub.Extend, request).lease_expires_at_ms
        return expires_at_ms

    def get_job(self, job_id: str) -> GrpcJob:
        return job_from(self._call(self._stub.GetJob, pb.GetJobRequest(job_id=job_id)).job)

    def cancel_job(self, job_id: str) -> None:
        self._call(self._stub.CancelJob, pb.CancelJobRequest(job_id=job_id))

    # -- queues ---------------------------------------------------------------

    def list_queues(self) -> list[GrpcQueueSummary]:
        return [summary_from(queue) for queue in self._call(self._stub.ListQueues, pb.ListQueuesRequest()).queues]

    def stats(self, queue: str) -> GrpcQueueStats:
        return stats_from(self._call(self._stub.Stats, pb.StatsRequest(queue=queue)))

    def list_jobs(
        self, queue: str, *, state: str | None = None, limit: int = 100, cursor: str | None = None
    ) -> GrpcJobPage:
        """One page of the queue's jobs (``state``: delayed, ready, inflight or dead)."""
        state_value = pb.JOB_STATE_UNSPECIFIED if state is None else pb.JobState.Value(f"JOB_STATE_{state.upper()}")
        request = pb.ListJobsRequest(queue=queue, state=state_value, limit=limit, cursor=cursor)
        return page_from(self._call(self._stub.ListJobs, request))

    def set_rate_limit(self, queue: str, *, capacity: float, refill_rate: float) -> None:
        limit = pb.RateLimit(capacity=capacity, refill_rate=refill_rate)
        self._call(self._stub.SetRateLimit, pb.SetRateLimitRequest(queue=queue, rate_limit=limit))

    def get_rate_limit(self, queue: str) -> GrpcRateLimit | None:
        response = self._call(self._stub.GetRateLimit, pb.GetRateLimitRequest(queue=queue))
        if not response.exists:
            return None
        return GrpcRateLimit(response.rate_limit.capacity, response.rate_limit.refill_rate)

    def delete_rate_limit(self, queue: str) -> None:
        self._call(self._stub.DeleteRateLimit, pb.DeleteRateLimitRequest(queue=queue))

    def pause(self, queue: str) -> None:
        self._call(self._stub.Pause, pb.PauseRequest(queue=queue))

    def resume(self, queue: str) -> None:
        self._call(self._stub.Resume, pb.ResumeRequest(queue=queue))

    def purge_queue(self, queue: str) -> int:
        """Deletes every job of the queue; returns how many."""
        purged: int = self._call(self._stub.PurgeQueue, pb.PurgeQueueRequest(queue=queue)).purged
        return purged

    # -- dead letter queue ----------------------------------------------------

    def list_dlq(self, queue: str, *, limit: int = 100, cursor: str | None = None) -> GrpcJobPage:
        return page_from(self._call(self._stub.ListDLQ, pb.ListDLQRequest(queue=queue, limit=limit, cursor=cursor)))

    def requeue_dlq(self, queue: str, job_ids: Sequence[str] | None = None) -> int:
        """Requeues the given dead jobs, or all of them when ``job_ids`` is None."""
        request = pb.RequeueDLQRequest(queue=queue, job_ids=job_ids or [], all=job_ids is None)
        requeued: int = self._call(self._stub.RequeueDLQ, request).requeued
        return requeued

    def purge_dlq(self, queue: str) -> int:
        purged: int = self._call(self._stub.PurgeDLQ, pb.PurgeDLQRequest(queue=queue)).purged
        return purged
