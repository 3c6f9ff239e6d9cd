"""Concurrency limit routes: set, read and delete a queue's limit on jobs in flight."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from rivetq import wire
from rivetq.server.rest.bodies import BodyLimits, decode_body
from rivetq.server.rest.operations import Operation
from rivetq.server.rest.views import concurrency_limit_view, json_response
from rivetq.service import QueueService

__all__ = ["ConcurrencyLimitEndpoints"]

_BODY = msgspec.json.Decoder(wire.ConcurrencyLimitBody)
_SUCCESS = wire.SuccessResponse()


class ConcurrencyLimitEndpoints:
    def __init__(self, manager: QueueService, limits: BodyLimits) -> None:
        self._manager = manager
        self._limits = limits

    async def set_concurrency_limit(self, request: Request) -> Response:
        body = await decode_body(request, _BODY, self._limits.single)
        await self._manager.set_concurrency_limit(request.path_params["queue"], body.max_inflight)
        return json_response(concurrency_limit_view(body.max_inflight))

    async def get_concurrency_limit(self, request: Request) -> Response:
        limit = await self._manager.get_concurrency_limit(request.path_params["queue"])
        return json_response(concurrency_limit_view(limit))

    async def delete_concurrency_limit(self, request: Request) -> Response:
        await self._manager.delete_concurrency_limit(request.path_params["queue"])
        return json_response(_SUCCESS)

    def operations(self) -> list[Operation]:
        path = "/v1/queues/{queue}/concurrency_limit"
        return [
            Operation("POST", path, self.set_concurrency_limit, "Limit how many jobs of a queue are in flight at once",
                      "concurrency limits", response=wire.ConcurrencyLimitView, body=wire.ConcurrencyLimitBody),
            Operation("GET", path, self.get_concurrency_limit, "Read a queue's concurrency limit", "concurrency limits",
                      response=wire.ConcurrencyLimitView),
            Operation("DELETE", path, self.delete_concurrency_limit, "Remove a queue's concurrency limit",
                      "concurrency limits", response=wire.SuccessResponse),
        ]  # fmt: skip
