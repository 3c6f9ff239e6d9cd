"""The access log (``logging.access_log``): one info line per HTTP request with the
method, the path (never the query string), the status and the duration. Headers, and so
the ``Authorization`` token, never reach it. Requests the HTTP protocol refuses before
the app sees them (408, 431, 503) are logged too, with what is known of them, and so
are gRPC calls (method, status code, duration, never the metadata)."""

from __future__ import annotations

from collections.abc import Mapping

import structlog
from starlette.types import Scope

from rivetq.server.observed import REFUSED, RequestObserver

__all__ = ["AccessLogMiddleware", "log_refusal", "log_rpc"]

_log = structlog.get_logger("rivetq.access")


def log_refusal(scope: Mapping[str, object] | None, status: int, code: str, client: tuple[str, int] | None) -> None:
    """A request answered by the protocol itself; method and path are None when its
    headers were not all read."""
    method = path = None
    if scope is not None and "path" in scope:
        method, path = scope["method"], scope["path"]
    _log.info(
        "http_request", method=method, path=path, status=status, refused=code, client=client[0] if client else None
    )


def log_rpc(method: str, code: str, elapsed_s: float, client: str | None) -> None:
    _log.info("grpc_request", method=method, code=code, duration_ms=round(elapsed_s * 1000, 3), client=client)


class AccessLogMiddleware(RequestObserver):
    def observe(self, scope: Scope, status: int, elapsed_s: float) -> None:
        client = scope.get("client")
        refused = scope.get(REFUSED)
        _log.info(
            "http_request",
            method=scope["method"],
            path=scope["path"],
            status=status,
            duration_ms=round(elapsed_s * 1000, 3),
            client=client[0] if client else None,
            **({} if refused is None else {"refused": refused[1]}),
        )
