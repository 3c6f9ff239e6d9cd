"""Deleting a queue entirely (``DELETE /v1/queues/{queue}`` only purges its jobs)."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from rivetq import wire
from rivetq.server.rest.bodies import BodyLimits, decode_body
from rivetq.server.rest.operations import Operation
from rivetq.server.rest.views import json_response
from rivetq.service import QueueService

__all__ = ["QueueDeletionEndpoints"]

_DELETE = msgspec.json.Decoder(wire.DeleteQueueRequest)


class QueueDeletionEndpoints:
    def __init__(self, manager: QueueService, limits: BodyLimits) -> None:
        self._manager = manager
        self._limits = limits

    async def delete_queue(self, request: Request) -> Response:
        body = await decode_body(request, _DELETE, self._limits.single)
        queue = request.path_params["queue"]
        deleted = await self._manager.delete_queue(queue, force=body.force)
        return json_response(wire.QueueDeletedResponse(queue=queue, deleted_jobs=deleted))

    def operations(self) -> list[Operation]:
        return [
            Operation("POST", "/v1/queues/{queue}/delete", self.delete_queue,
                      "Delete a queue entirely: jobs, DLQ, settings, counters, metrics (409 while jobs are inflight,"
                      " unless force)", "queues", response=wire.QueueDeletedResponse, body=wire.DeleteQueueRequest),
        ]  # fmt: skip
