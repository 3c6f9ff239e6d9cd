"""The online backup route (admin): a consistent copy of a running server's data."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from rivetq import wire
from rivetq.models import BackupResult
from rivetq.server.rest.bodies import BodyLimits, decode_body
from rivetq.server.rest.operations import Operation
from rivetq.server.rest.views import json_response
from rivetq.service import QueueService

__all__ = ["BackupEndpoints"]

_BACKUP = msgspec.json.Decoder(wire.BackupRequest)


class BackupEndpoints:
    def __init__(self, manager: QueueService, limits: BodyLimits) -> None:
        self._manager = manager
        self._limits = limits

    async def backup(self, request: Request) -> Response:
        body = await decode_body(request, _BACKUP, self._limits.single)
        return json_response(await self._manager.backup(body.dest))

    def operations(self) -> list[Operation]:
        summary = (
            "Write an online backup (snapshot + WAL) to an absolute directory path on the server's host"
            " (apart from its data directory) or s3://bucket/prefix"
        )
        return [
            Operation("POST", "/v1/admin/backup", self.backup, summary, "admin",
                      response=BackupResult, body=wire.BackupRequest),
        ]  # fmt: skip
