"""Retry policy routes: set, read and reset the backoff a queue applies after a failed
attempt (SPEC §1: "settable per queue")."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from rivetq import wire
from rivetq.models import RetryPolicy
from rivetq.server.rest.bodies import BodyLimits, decode_body
from rivetq.server.rest.operations import Operation
from rivetq.server.rest.views import json_response
from rivetq.service import QueueService

__all__ = ["RetryPolicyEndpoints"]

_RETRY_POLICY = msgspec.json.Decoder(wire.RetryPolicyBody)
_SUCCESS = wire.SuccessResponse()


class RetryPolicyEndpoints:
    def __init__(self, manager: QueueService, limits: BodyLimits) -> None:
        self._manager = manager
        self._limits = limits

    async def set_retry_policy(self, request: Request) -> Response:
        body = await decode_body(request, _RETRY_POLICY, self._limits.single)
        policy = RetryPolicy(
            base_backoff_ms=body.base_backoff_ms,
            multiplier=body.multiplier,
            max_backoff_ms=body.max_backoff_ms,
            jitter=body.jitter,
        )
        await self._manager.set_retry_policy(request.path_params["queue"], policy)
        return json_response(policy)

    async def get_retry_policy(self, request: Request) -> Response:
        return json_response(await self._manager.get_retry_policy(request.path_params["queue"]))

    async def reset_retry_policy(self, request: Request) -> Response:
        await self._manager.set_retry_policy(request.path_params["queue"], RetryPolicy())
        return json_response(_SUCCESS)

    def operations(self) -> list[Operation]:
        path = "/v1/queues/{queue}/retry_policy"
        return [
            Operation("POST", path, self.set_retry_policy, "Set a queue's retry backoff", "retry policies",
                      response=RetryPolicy, body=wire.RetryPolicyBody),
            Operation("GET", path, self.get_retry_policy, "Read a queue's retry backoff (defaults until set)",
                      "retry policies", response=RetryPolicy),
            Operation("DELETE", path, self.reset_retry_policy, "Reset a queue's retry backoff to the defaults",
                      "retry policies", response=wire.SuccessResponse),
        ]  # fmt: skip
