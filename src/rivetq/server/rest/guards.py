"""Writes must say ``Content-Type: application/json`` (415 otherwise): a web page can send
a cross-site "simple" POST as text/plain without a preflight, and must not reach the API.
A write to a path or method no route serves is left to the router (404, or 405 with
``Allow``): the content type of a request nothing would take is not its problem."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from rivetq.server.rest.errors import send_error

__all__ = ["JsonContentTypeMiddleware"]

_JSON = b"application/json"


class JsonContentTypeMiddleware:
    """POST and PUT always, and DELETE when it carries a body, need a JSON content type
    (a browser sends PUT across sites only after a CORS preflight, but every write is held
    to the same rule)."""

    def __init__(self, app: ASGIApp, *, routes: Sequence[BaseRoute]) -> None:
        self._app = app
        self._routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _needs_json(scope) and not _is_json(scope) and self._routed(scope):
            await send_error(
                send, "unsupported_media_type", "state-changing calls need the header 'Content-Type: application/json'"
            )
            return
        await self._app(scope, receive, send)

    def _routed(self, scope: Scope) -> bool:
        return any(route.matches(scope)[0] == Match.FULL for route in self._routes)


def _needs_json(scope: Scope) -> bool:
    method: str = scope["method"]
    if method in ("POST", "PUT"):
        return True
    if method != "DELETE":
        return False
    for name, value in scope["headers"]:
        if (name == b"content-length" and value not in (b"0", b"")) or name == b"transfer-encoding":
            return True
    return False


def _is_json(scope: Scope) -> bool:
    value: bytes
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == _JSON
    return False
