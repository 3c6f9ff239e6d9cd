"""Request latency into ``rivetq_http_request_duration_seconds{method,route,status}``,
labelled by route *template* (never the raw path, whose values are unbounded)."""

from __future__ import annotations

from prometheus_client import Histogram
from starlette.types import ASGIApp, Scope

from rivetq.server.observed import RequestObserver

__all__ = ["RequestTimingMiddleware"]


class RequestTimingMiddleware(RequestObserver):
    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        super().__init__(app)
        self._histogram = histogram
        self._children: dict[tuple[str, str, int], Histogram] = {}  # labels() takes a lock per call

    def observe(self, scope: Scope, status: int, elapsed_s: float) -> None:
        key = (scope["method"], getattr(scope.get("route"), "path", "unmatched"), status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._histogram.labels(key[0], key[1], str(status))
        child.observe(elapsed_s)
