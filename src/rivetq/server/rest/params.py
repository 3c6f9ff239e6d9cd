"""Query parameters of the listing routes, parsed with errors that name the parameter."""

from __future__ import annotations

from starlette.requests import Request

from rivetq.errors import InvalidArgument
from rivetq.models import JobState
from rivetq.server.rest.operations import QueryParam

__all__ = ["CURSOR", "LIMIT", "MAX_LIMIT", "STATE", "cursor_param", "limit_param", "state_param"]

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_STATES = {state.value: state for state in JobState}

LIMIT = QueryParam("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, "jobs per page (default 100)")
CURSOR = QueryParam("cursor", {"type": "string"}, "next_cursor of the previous page")
STATE = QueryParam("state", {"type": "string", "enum": list(_STATES)}, "only jobs in this state")


def limit_param(request: Request) -> int:
    text = request.query_params.get("limit")
    if text is None or text == "":
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise InvalidArgument(f"limit: expected an integer from 1 to {MAX_LIMIT}, got {text!r}", field="limit")
    return int(text)


def cursor_param(request: Request) -> str | None:
    return request.query_params.get("cursor")


def state_param(request: Request) -> JobState | None:
    text = request.query_params.get("state")
    if text is None or text == "":
        return None
    state = _STATES.get(text)
    if state is None:
        raise InvalidArgument(f"state: expected one of {', '.join(_STATES)}, got {text!r}", field="state")
    return state
