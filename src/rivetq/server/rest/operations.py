"""One table of REST operations drives both the router and the OpenAPI document, so
the documented shapes are the ones the handlers decode and encode."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["Endpoint", "Operation", "QueryParam", "routes_for"]

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class QueryParam:
    name: str
    schema: dict[str, Any]
    description: str


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    endpoint: Endpoint
    summary: str
    tag: str
    _: KW_ONLY
    response: type
    status: int = 200
    body: type | None = None
    query: tuple[QueryParam, ...] = ()
    other_statuses: tuple[int, ...] = ()  # further success statuses with the same shape
    also_paths: tuple[str, ...] = field(default=())  # aliases served but not documented


def routes_for(operations: Sequence[Operation]) -> list[Route]:
    """One route per path, so that a 405 lists every method the path has in ``Allow``."""
    by_path: dict[str, dict[str, Endpoint]] = {}
    for op in operations:
        for path in (op.path, *op.also_paths):
            by_path.setdefault(path, {})[op.method] = op.endpoint
    return [_route(path, endpoints) for path, endpoints in by_path.items()]


def _route(path: str, endpoints: dict[str, Endpoint]) -> Route:
    if len(endpoints) == 1:
        [(method, endpoint)] = endpoints.items()
        return Route(path, endpoint, methods=[method])

    async def by_method(request: Request) -> Response:
        return await endpoints["GET" if request.method == "HEAD" else request.method](request)

    return Route(path, by_method, methods=list(endpoints))
