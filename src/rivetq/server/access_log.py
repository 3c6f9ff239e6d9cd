"""The access log (``logging.access_log``): one info line per HTTP request with the
method, the path (never the query string), the status and the duration. Headers, and so
the ``Authorization`` token, never reach it."""

from __future__ import annotations

import structlog
from starlette.types import Scope

from rivetq.server.observed import RequestObserver

__all__ = ["AccessLogMiddleware"]

_log = structlog.get_logger("rivetq.access")


class AccessLogMiddleware(RequestObserver):
    def observe(self, scope: Scope, status: int, elapsed_s: float) -> None:
        client = scope.get("client")
        _log.info(
            "http_request",
            method=scope["method"],
            path=scope["path"],
            status=status,
            duration_ms=round(elapsed_s * 1000, 3),
            client=client[0] if client else None,
        )
