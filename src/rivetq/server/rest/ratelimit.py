"""Rate limit routes: set, read and delete a queue's dispatch token bucket."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from rivetq import wire
from rivetq.models import RateLimit
from rivetq.server.rest.bodies import BodyLimits, decode_body
from rivetq.server.rest.operations import Operation
from rivetq.server.rest.views import json_response, rate_limit_view
from rivetq.service import QueueService

__all__ = ["RateLimitEndpoints"]

_RATE_LIMIT = msgspec.json.Decoder(wire.RateLimitBody)
_SUCCESS = wire.SuccessResponse()


class RateLimitEndpoints:
    def __init__(self, manager: QueueService, limits: BodyLimits) -> None:
        self._manager = manager
        self._limits = limits

    async def set_rate_limit(self, request: Request) -> Response:
        body = await decode_body(request, _RATE_LIMIT, self._limits.single)
        limit = RateLimit(capacity=body.capacity, refill_rate=body.refill_rate)
        await self._manager.set_rate_limit(request.path_params["queue"], limit)
        return json_response(rate_limit_view(limit))

    async def get_rate_limit(self, request: Request) -> Response:
        return json_response(rate_limit_view(await self._manager.get_rate_limit(request.path_params["queue"])))

    async def delete_rate_limit(self, request: Request) -> Response:
        await self._manager.delete_rate_limit(request.path_params["queue"])
        return json_response(_SUCCESS)

    def operations(self) -> list[Operation]:
        path = "/v1/queues/{queue}/rate_limit"
        return [
            Operation("POST", path, self.set_rate_limit, "Set a queue's dispatch rate limit", "rate limits",
                      response=wire.RateLimitView, body=wire.RateLimitBody),
            Operation("GET", path, self.get_rate_limit, "Read a queue's rate limit", "rate limits",
                      response=wire.RateLimitView),
            Operation("DELETE", path, self.delete_rate_limit, "Remove a queue's rate limit", "rate limits",
                      response=wire.SuccessResponse),
        ]  # fmt: skip
