"""Operational routes: liveness, readiness and Prometheus metrics (open without a token)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rivetq.errors import StorageUnavailable
from rivetq.server.metrics import CONTENT_TYPE, Metrics
from rivetq.server.rest.views import json_response
from rivetq.service import QueueService, StorageView

__all__ = ["HealthEndpoints"]

T = TypeVar("T")
_OK = {"status": "ok"}


class HealthEndpoints:
    def __init__(
        self, manager: QueueService, storage: StorageView, metrics: Metrics, is_ready: Callable[[], bool]
    ) -> None:
        self._manager = manager
        self._storage = storage
        self._metrics = metrics
        self._is_ready = is_ready

    async def healthz(self, request: Request) -> Response:
        return json_response(_OK)

    async def readyz(self, request: Request) -> Response:
        if not self._is_ready():
            return json_response({"status": "unavailable", "reason": "starting or stopping"}, 503)
        status = await self._storage.storage_status()
        if status.unavailable_reason is not None:
            return json_response({"status": "unavailable", "reason": status.unavailable_reason}, 503)
        return json_response({**_OK, "notices": status.notices} if status.notices else _OK)

    async def metrics(self, request: Request) -> Response:
        """While the storage cannot answer, the scrape still succeeds without the per-queue
        gauges: the counters and latency histograms show the outage."""
        queues = await _unless_unavailable(self._manager.list_queues())
        schedules = await _unless_unavailable(self._manager.list_schedules())
        status = await _unless_unavailable(self._storage.storage_status())
        gauges = {} if status is None else status.gauges
        names = None if schedules is None else [schedule.name for schedule in schedules]
        body = await asyncio.to_thread(self._metrics.render, queues, gauges, names)
        return Response(body, media_type=CONTENT_TYPE)

    def routes(self) -> list[Route]:
        return [
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/readyz", self.readyz, methods=["GET"]),
            Route("/metrics", self.metrics, methods=["GET"]),
        ]


async def _unless_unavailable(call: Awaitable[T]) -> T | None:
    """``call``'s answer, or None while the storage cannot answer."""
    try:
        return await call
    except StorageUnavailable:
        return None
