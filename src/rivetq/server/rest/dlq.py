"""Dead letter queue routes: list, requeue and purge."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from rivetq import wire
from rivetq.server.rest.bodies import BodyLimits, decode_body
from rivetq.server.rest.operations import Operation
from rivetq.server.rest.params import CURSOR, LIMIT, cursor_param, limit_param
from rivetq.server.rest.views import job_list, json_response
from rivetq.service import QueueService

__all__ = ["DlqEndpoints"]

_REQUEUE = msgspec.json.Decoder(wire.RequeueRequest)


class DlqEndpoints:
    def __init__(self, manager: QueueService, limits: BodyLimits) -> None:
        self._manager = manager
        self._limits = limits

    async def list_dlq(self, request: Request) -> Response:
        page = await self._manager.list_dlq(
            request.path_params["queue"], limit=limit_param(request), cursor=cursor_param(request)
        )
        return json_response(job_list(page, self._manager.now_ms()))

    async def requeue_dlq(self, request: Request) -> Response:
        body = await decode_body(request, _REQUEUE, self._limits.batch)
        requeued = await self._manager.requeue_dlq(request.path_params["queue"], body.job_ids)
        return json_response(wire.RequeuedResponse(requeued=requeued))

    async def purge_dlq(self, request: Request) -> Response:
        purged = await self._manager.purge_dlq(request.path_params["queue"])
        return json_response(wire.PurgedResponse(purged=purged))

    def operations(self) -> list[Operation]:
        dlq = "/v1/queues/{queue}/dlq"
        return [
            Operation("GET", dlq, self.list_dlq, "List a queue's dead jobs", "dlq",
                      response=wire.JobListResponse, query=(LIMIT, CURSOR)),
            Operation("POST", f"{dlq}/requeue", self.requeue_dlq, "Requeue dead jobs (the given ones, or all)", "dlq",
                      response=wire.RequeuedResponse, body=wire.RequeueRequest),
            Operation("DELETE", dlq, self.purge_dlq, "Delete a queue's dead jobs", "dlq", response=wire.PurgedResponse),
        ]  # fmt: skip
