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
    return [Route(path, op.endpoint, methods=[op.method]) for op in operations for path in (op.path, *op.also_paths)]
