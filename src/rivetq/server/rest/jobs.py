"""Job routes: enqueue, lease, ack, nack, extend, lookup and cancel."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from rivetq import wire
from rivetq.models import AckResult
from rivetq.server.rest.bodies import BodyLimits, decode_body
from rivetq.server.rest.operations import Operation
from rivetq.server.rest.views import job_view, json_response, leased_job, rfc3339_ms
from rivetq.service import QueueService

__all__ = ["JobEndpoints"]

_ENQUEUE = msgspec.json.Decoder(wire.EnqueueRequest)
_ENQUEUE_BATCH = msgspec.json.Decoder(wire.EnqueueBatchRequest)
_LEASE = msgspec.json.Decoder(wire.LeaseRequest)
_ACK = msgspec.json.Decoder(wire.AckRequest)
_ACK_BATCH = msgspec.json.Decoder(wire.AckBatchRequest)
_NACK = msgspec.json.Decoder(wire.NackRequest)
_EXTEND = msgspec.json.Decoder(wire.ExtendRequest)
_SUCCESS = wire.SuccessResponse()


class JobEndpoints:
    def __init__(self, manager: QueueService, limits: BodyLimits) -> None:
        self._manager = manager
        self._limits = limits

    async def enqueue(self, request: Request) -> Response:
        body = await decode_body(request, _ENQUEUE, self._limits.single)
        result = await self._manager.enqueue(request.path_params["queue"], body)
        if result.duplicate:
            return json_response(wire.EnqueueResponse(job_id=result.job_id, duplicate=True), 200)
        return json_response(wire.EnqueueResponse(job_id=result.job_id), 201)

    async def enqueue_batch(self, request: Request) -> Response:
        body = await decode_body(request, _ENQUEUE_BATCH, self._limits.batch)
        results = await self._manager.enqueue_batch(request.path_params["queue"], body.jobs)
        return json_response(wire.EnqueueBatchResponse(job_ids=[result.job_id for result in results]), 201)

    async def lease(self, request: Request) -> Response:
        body = await decode_body(request, _LEASE, self._limits.batch)  # its acks are a batch
        queue = request.path_params["queue"]
        if body.acks is None:
            jobs = await self._manager.lease(
                queue, max_jobs=body.max_jobs, visibility_ms=body.visibility_ms, wait_ms=body.wait_ms
            )
            return json_response(wire.LeaseResponse(jobs=[leased_job(job) for job in jobs]))
        results, jobs = await self._manager.ack_and_lease(
            [(item.job_id, item.lease_id) for item in body.acks],
            queue,
            max_jobs=body.max_jobs,
            visibility_ms=body.visibility_ms,
            wait_ms=body.wait_ms,
        )
        return json_response(wire.LeaseResponse(jobs=[leased_job(job) for job in jobs], acks=_ack_results(results)))

    async def ack(self, request: Request) -> Response:
        body = await decode_body(request, _ACK, self._limits.single)
        await self._manager.ack(body.job_id, body.lease_id)
        return json_response(_SUCCESS)

    async def ack_batch(self, request: Request) -> Response:
        body = await decode_body(request, _ACK_BATCH, self._limits.batch)
        results = await self._manager.ack_batch([(item.job_id, item.lease_id) for item in body.acks])
        return json_response(wire.AckBatchResponse(results=_ack_results(results)))

    async def nack(self, request: Request) -> Response:
        body = await decode_body(request, _NACK, self._limits.single)
        state = await self._manager.nack(body.job_id, body.lease_id, reason=body.reason, delay_ms=body.delay_ms)
        return json_response(wire.NackResponse(success=True, state=state.value))

    async def extend(self, request: Request) -> Response:
        body = await decode_body(request, _EXTEND, self._limits.single)
        expires_at_ms = await self._manager.extend(body.job_id, body.lease_id, visibility_ms=body.visibility_ms)
        return json_response(wire.ExtendResponse(lease_expires_at=rfc3339_ms(expires_at_ms)))

    async def get_job(self, request: Request) -> Response:
        job = await self._manager.get_job(request.path_params["job_id"])
        return json_response(job_view(job, self._manager.now_ms()))

    async def cancel(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        await self._manager.cancel(job_id)
        return json_response(wire.DeletedResponse(success=True, job_id=job_id))

    def operations(self) -> list[Operation]:
        queue, job = "/v1/queues/{queue}", "/v1/jobs/{job_id}"
        return [
            Operation("POST", f"{queue}/enqueue", self.enqueue, "Enqueue a job", "jobs",
                      response=wire.EnqueueResponse, status=201, body=wire.EnqueueRequest, other_statuses=(200,)),
            Operation("POST", f"{queue}/enqueue_batch", self.enqueue_batch, "Enqueue jobs atomically", "jobs",
                      response=wire.EnqueueBatchResponse, status=201, body=wire.EnqueueBatchRequest),
            Operation("POST", f"{queue}/lease", self.lease, "Lease ready jobs (and ack finished ones)", "jobs",
                      response=wire.LeaseResponse, body=wire.LeaseRequest),
            Operation("POST", "/v1/ack", self.ack, "Ack a leased job (done)", "jobs",
                      response=wire.SuccessResponse, body=wire.AckRequest),
            Operation("POST", "/v1/ack_batch", self.ack_batch, "Ack many leased jobs, each on its own", "jobs",
                      response=wire.AckBatchResponse, body=wire.AckBatchRequest),
            Operation("POST", "/v1/nack", self.nack, "Nack a leased job (a failed attempt)", "jobs",
                      response=wire.NackResponse, body=wire.NackRequest),
            Operation("POST", "/v1/extend", self.extend, "Extend a lease", "jobs",
                      response=wire.ExtendResponse, body=wire.ExtendRequest),
            Operation("GET", job, self.get_job, "Look up a job", "jobs", response=wire.JobView),
            Operation("DELETE", job, self.cancel, "Cancel (delete) a job that is not inflight", "jobs",
                      response=wire.DeletedResponse),
        ]  # fmt: skip


def _ack_results(results: list[AckResult]) -> list[wire.AckItemResult]:
    return [
        wire.AckItemResult(job_id=r.job_id, ok=r.error is None, error=r.error, error_code=r.error_code) for r in results
    ]
