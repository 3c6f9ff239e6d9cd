"""Operational routes: liveness, readiness and Prometheus metrics (open without a token)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rivetq.errors import StorageUnavailable
from rivetq.models import QueueStats
from rivetq.server.metrics import CONTENT_TYPE, Metrics
from rivetq.server.rest.views import json_response
from rivetq.service import QueueService, StorageView

__all__ = ["HealthEndpoints"]

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
        queues: list[QueueStats] | None
        try:
            queues = await self._manager.list_queues()
        except StorageUnavailable:
            queues = None
        schedules: list[str] | None
        try:
            schedules = [schedule.name for schedule in await self._manager.list_schedules()]
        except StorageUnavailable:
            schedules = None
        try:
            gauges = (await self._storage.storage_status()).gauges
        except StorageUnavailable:
            gauges = {}
        body = await asyncio.to_thread(self._metrics.render, queues, gauges, schedules)
        return Response(body, media_type=CONTENT_TYPE)

    def routes(self) -> list[Route]:
        return [
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/readyz", self.readyz, methods=["GET"]),
            Route("/metrics", self.metrics, methods=["GET"]),
        ]
