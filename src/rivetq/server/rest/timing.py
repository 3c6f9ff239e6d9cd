"""Request latency into ``rivetq_http_request_duration_seconds{method,route,status}``,
labelled by route *template* (never the raw path, whose values are unbounded)."""

from __future__ import annotations

import time

from prometheus_client import Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["RequestTimingMiddleware"]


class RequestTimingMiddleware:
    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self._app = app
        self._histogram = histogram
        self._children: dict[tuple[str, str, int], Histogram] = {}  # labels() takes a lock per call

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, send_and_note_status)
        finally:
            elapsed = time.perf_counter() - started
            key = (scope["method"], getattr(scope.get("route"), "path", "unmatched"), status)
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = self._histogram.labels(key[0], key[1], str(status))
            child.observe(elapsed)
