"""The ``rivetq.v1.RivetQ`` servicer: each RPC is one QueueService call, translated by
``convert`` and with errors mapped by ``errors``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Final

from rivetq.errors import InvalidArgument, StorageUnavailable
from rivetq.models import AckResult, RateLimit, RetryPolicy
from rivetq.server.grpc._pb import rivetq_pb2 as pb
from rivetq.server.grpc.convert import (
    job_message,
    job_messages,
    job_state,
    optional,
    queue_summary,
    retry_policy,
    retry_policy_message,
    state_message,
    stats_response,
    wire_enqueue,
)
from rivetq.server.grpc.errors import Context, abort_with, maps_errors, maps_stream_errors
from rivetq.server.grpc.schedules import schedule_body, schedule_message
from rivetq.server.grpc.stream import LeaseStreams

if TYPE_CHECKING:
    from rivetq.service import QueueService

__all__ = ["RivetQService"]

DEFAULT_VISIBILITY_MS: Final = 30_000
DEFAULT_PAGE_LIMIT: Final = 100


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


class RivetQService:
    def __init__(self, manager: QueueService, streams: LeaseStreams) -> None:
        self._manager = manager
        self._streams = streams

    @maps_errors
    async def Enqueue(self, request: pb.EnqueueRequest, context: Context) -> pb.EnqueueResponse:
        result = await self._manager.enqueue(request.queue, wire_enqueue(request))
        return pb.EnqueueResponse(job_id=result.job_id, duplicate=result.duplicate)

    @maps_errors
    async def EnqueueBatch(self, request: pb.EnqueueBatchRequest, context: Context) -> pb.EnqueueBatchResponse:
        jobs = [wire_enqueue(job) for job in request.jobs]
        results = await self._manager.enqueue_batch(request.queue, jobs)
        return pb.EnqueueBatchResponse(job_ids=[result.job_id for result in results])

    @maps_errors
    async def Lease(self, request: pb.LeaseRequest, context: Context) -> pb.LeaseResponse:
        acks = [(item.job_id, item.lease_id) for item in request.acks]
        results, jobs = await self._manager.ack_and_lease(
            acks,
            request.queue,
            max_jobs=_or(optional(request, "max_jobs"), 1),
            visibility_ms=_or(optional(request, "visibility_ms"), DEFAULT_VISIBILITY_MS),
            wait_ms=request.wait_ms,
        )
        return pb.LeaseResponse(jobs=job_messages(jobs, self._manager.now_ms()), acks=self._acked(results))

    @maps_errors
    async def Ack(self, request: pb.AckRequest, context: Context) -> pb.AckResponse:
        await self._manager.ack(request.job_id, request.lease_id)
        return pb.AckResponse()

    @maps_errors
    async def AckBatch(self, request: pb.AckBatchRequest, context: Context) -> pb.AckBatchResponse:
        acks = [(item.job_id, item.lease_id) for item in request.acks]
        return pb.AckBatchResponse(results=self._acked(await self._manager.ack_batch(acks)))

    @staticmethod
    def _acked(results: list[AckResult]) -> list[pb.AckResult]:
        return [
            pb.AckResult(job_id=r.job_id, ok=r.error is None, error_code=r.error_code, error=r.error) for r in results
        ]

    @maps_errors
    async def Nack(self, request: pb.NackRequest, context: Context) -> pb.NackResponse:
        state = await self._manager.nack(
            request.job_id,
            request.lease_id,
            reason=optional(request, "reason"),
            delay_ms=optional(request, "delay_ms"),
        )
        return pb.NackResponse(state=state_message(state))

    @maps_errors
    async def Extend(self, request: pb.ExtendRequest, context: Context) -> pb.ExtendResponse:
        visibility_ms = request.visibility_ms
        expires_at_ms = await self._manager.extend(request.job_id, request.lease_id, visibility_ms=visibility_ms)
        return pb.ExtendResponse(lease_expires_at_ms=expires_at_ms)

    @maps_errors
    async def GetJob(self, request: pb.GetJobRequest, context: Context) -> pb.GetJobResponse:
        job = await self._manager.get_job(request.job_id)
        return pb.GetJobResponse(job=job_message(job, self._manager.now_ms()))

    @maps_errors
    async def CancelJob(self, request: pb.CancelJobRequest, context: Context) -> pb.CancelJobResponse:
        await self._manager.cancel(request.job_id)
        return pb.CancelJobResponse()

    @maps_errors
    async def ListQueues(self, request: pb.ListQueuesRequest, context: Context) -> pb.ListQueuesResponse:
        queues = await self._manager.list_queues()
        return pb.ListQueuesResponse(queues=[queue_summary(stats) for stats in queues])

    @maps_errors
    async def Stats(self, request: pb.StatsRequest, context: Context) -> pb.StatsResponse:
        return stats_response(await self._manager.stats(request.queue))

    @maps_errors
    async def ListJobs(self, request: pb.ListJobsRequest, context: Context) -> pb.ListJobsResponse:
        page = await self._manager.list_jobs(
            request.queue,
            state=job_state(request.state),
            limit=_or(optional(request, "limit"), DEFAULT_PAGE_LIMIT),
            cursor=optional(request, "cursor"),
        )
        return pb.ListJobsResponse(jobs=job_messages(page.jobs, self._manager.now_ms()), next_cursor=page.next_cursor)

    @maps_errors
    async def SetRateLimit(self, request: pb.SetRateLimitRequest, context: Context) -> pb.SetRateLimitResponse:
        if not request.HasField("rate_limit"):
            raise InvalidArgument("rate_limit is required", field="rate_limit")
        limit = RateLimit(capacity=request.rate_limit.capacity, refill_rate=request.rate_limit.refill_rate)
        await self._manager.set_rate_limit(request.queue, limit)
        return pb.SetRateLimitResponse()

    @maps_errors
    async def GetRateLimit(self, request: pb.GetRateLimitRequest, context: Context) -> pb.GetRateLimitResponse:
        limit = await self._manager.get_rate_limit(request.queue)
        if limit is None:
            return pb.GetRateLimitResponse(exists=False, rate_limit=pb.RateLimit())
        rate_limit = pb.RateLimit(capacity=limit.capacity, refill_rate=limit.refill_rate)
        return pb.GetRateLimitResponse(exists=True, rate_limit=rate_limit)

    @maps_errors
    async def DeleteRateLimit(self, request: pb.DeleteRateLimitRequest, context: Context) -> pb.DeleteRateLimitResponse:
        await self._manager.delete_rate_limit(request.queue)
        return pb.DeleteRateLimitResponse()

    @maps_errors
    async def SetConcurrencyLimit(
        self, request: pb.SetConcurrencyLimitRequest, context: Context
    ) -> pb.SetConcurrencyLimitResponse:
        await self._manager.set_concurrency_limit(request.queue, request.max_inflight)
        return pb.SetConcurrencyLimitResponse()

    @maps_errors
    async def GetConcurrencyLimit(
        self, request: pb.GetConcurrencyLimitRequest, context: Context
    ) -> pb.GetConcurrencyLimitResponse:
        limit = await self._manager.get_concurrency_limit(request.queue)
        return pb.GetConcurrencyLimitResponse(exists=limit is not None, max_inflight=limit or 0)

    @maps_errors
    async def DeleteConcurrencyLimit(
        self, request: pb.DeleteConcurrencyLimitRequest, context: Context
    ) -> pb.DeleteConcurrencyLimitResponse:
        await self._manager.delete_concurrency_limit(request.queue)
        return pb.DeleteConcurrencyLimitResponse()

    @maps_errors
    async def PutSchedule(self, request: pb.PutScheduleRequest, context: Context) -> pb.ScheduleReply:
        schedule = await self._manager.put_schedule(request.name, schedule_body(request))
        return pb.ScheduleReply(schedule=schedule_message(schedule))

    @maps_errors
    async def GetSchedule(self, request: pb.ScheduleRef, context: Context) -> pb.ScheduleReply:
        return pb.ScheduleReply(schedule=schedule_message(await self._manager.get_schedule(request.name)))

    @maps_errors
    async def ListSchedules(self, request: pb.ListSchedulesRequest, context: Context) -> pb.ListSchedulesResponse:
        schedules = await self._manager.list_schedules()
        return pb.ListSchedulesResponse(schedules=[schedule_message(schedule) for schedule in schedules])

    @maps_errors
    async def DeleteSchedule(self, request: pb.ScheduleRef, context: Context) -> pb.DeleteScheduleResponse:
        await self._manager.delete_schedule(request.name)
        return pb.DeleteScheduleResponse()

    @maps_errors
    async def PauseSchedule(self, request: pb.ScheduleRef, context: Context) -> pb.ScheduleReply:
        return pb.ScheduleReply(schedule=schedule_message(await self._manager.pause_schedule(request.name)))

    @maps_errors
    async def ResumeSchedule(self, request: pb.ScheduleRef, context: Context) -> pb.ScheduleReply:
        return pb.ScheduleReply(schedule=schedule_message(await self._manager.resume_schedule(request.name)))

    @maps_errors
    async def RunSchedule(self, request: pb.ScheduleRef, context: Context) -> pb.EnqueueResponse:
        result = await self._manager.run_schedule(request.name)
        return pb.EnqueueResponse(job_id=result.job_id, duplicate=result.duplicate)

    @maps_errors
    async def SetRetryPolicy(self, request: pb.SetRetryPolicyRequest, context: Context) -> pb.SetRetryPolicyResponse:
        policy = retry_policy(request.retry_policy)
        await self._manager.set_retry_policy(request.queue, policy)
        return pb.SetRetryPolicyResponse(retry_policy=retry_policy_message(policy))

    @maps_errors
    async def GetRetryPolicy(self, request: pb.GetRetryPolicyRequest, context: Context) -> pb.GetRetryPolicyResponse:
        policy = await self._manager.get_retry_policy(request.queue)
        return pb.GetRetryPolicyResponse(retry_policy=retry_policy_message(policy))

    @maps_errors
    async def ResetRetryPolicy(
        self, request: pb.ResetRetryPolicyRequest, context: Context
    ) -> pb.ResetRetryPolicyResponse:
        await self._manager.set_retry_policy(request.queue, RetryPolicy())
        return pb.ResetRetryPolicyResponse()

    @maps_errors
    async def Pause(self, request: pb.PauseRequest, context: Context) -> pb.PauseResponse:
        await self._manager.pause(request.queue)
        return pb.PauseResponse()

    @maps_errors
    async def Resume(self, request: pb.ResumeRequest, context: Context) -> pb.ResumeResponse:
        await self._manager.resume(request.queue)
        return pb.ResumeResponse()

    @maps_errors
    async def PurgeQueue(self, request: pb.PurgeQueueRequest, context: Context) -> pb.PurgeQueueResponse:
        return pb.PurgeQueueResponse(purged=await self._manager.purge(request.queue))

    @maps_errors
    async def DeleteQueue(self, request: pb.DeleteQueueRequest, context: Context) -> pb.DeleteQueueResponse:
        deleted = await self._manager.delete_queue(request.queue, force=request.force)
        return pb.DeleteQueueResponse(deleted_jobs=deleted)

    @maps_errors
    async def ListDLQ(self, request: pb.ListDLQRequest, context: Context) -> pb.ListDLQResponse:
        page = await self._manager.list_dlq(
            request.queue, limit=_or(optional(request, "limit"), DEFAULT_PAGE_LIMIT), cursor=optional(request, "cursor")
        )
        return pb.ListDLQResponse(jobs=job_messages(page.jobs, self._manager.now_ms()), next_cursor=page.next_cursor)

    @maps_errors
    async def RequeueDLQ(self, request: pb.RequeueDLQRequest, context: Context) -> pb.RequeueDLQResponse:
        if request.all and request.job_ids:
            raise InvalidArgument("give job_ids or all, not both", field="all")
        job_ids = None if request.all else list(request.job_ids)
        return pb.RequeueDLQResponse(requeued=await self._manager.requeue_dlq(request.queue, job_ids))

    @maps_errors
    async def PurgeDLQ(self, request: pb.PurgeDLQRequest, context: Context) -> pb.PurgeDLQResponse:
        return pb.PurgeDLQResponse(purged=await self._manager.purge_dlq(request.queue))

    @maps_errors
    async def Backup(self, request: pb.BackupRequest, context: Context) -> pb.BackupResponse:
        result = await self._manager.backup(request.dest)
        return pb.BackupResponse(url=result.url, snapshot_lsn=result.snapshot_lsn, last_lsn=result.last_lsn)

    @maps_stream_errors
    async def StreamLease(
        self, request: pb.StreamLeaseRequest, context: Context
    ) -> AsyncIterator[pb.StreamLeaseResponse]:
        batches = self._streams.stream(
            request.queue,
            max_unacked=_or(optional(request, "max_unacked"), 1),
            visibility_ms=_or(optional(request, "visibility_ms"), DEFAULT_VISIBILITY_MS),
        )
        async for jobs in batches:
            yield pb.StreamLeaseResponse(jobs=job_messages(jobs, self._manager.now_ms()))
        await abort_with(context, StorageUnavailable("the server is shutting down: reconnect"))
