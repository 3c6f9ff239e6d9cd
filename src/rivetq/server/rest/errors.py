"""The one table from error codes to HTTP statuses, and the JSON error responses.

Every error leaves the server as ``{"error": {"code": "...", "message": "..."}}``, with
``"field"`` too when a request field is to blame.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Send

from rivetq import wire
from rivetq.errors import InvalidArgument, RivetQError

__all__ = [
    "STATUS_BY_CODE",
    "error_body",
    "http_exception_response",
    "invalid_argument",
    "rivetq_error_response",
    "send_error",
]

STATUS_BY_CODE: dict[str, int] = {
    "invalid_argument": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "job_not_found": 404,
    "queue_not_found": 404,
    "schedule_not_found": 404,
    "not_found": 404,
    "method_not_allowed": 405,
    "lease_lost": 409,
    "state_conflict": 409,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "storage_unavailable": 503,
    "storage_corrupt": 500,
}
_CODE_BY_HTTP_STATUS = {404: "not_found", 405: "method_not_allowed"}
_ENCODER = msgspec.json.Encoder()
_JSON = "application/json"
_NAMED_FIELD = re.compile(r"Object (?:missing required|contains unknown) field `([^`]*)`")


def error_body(code: str, message: str, field: str | None = None) -> bytes:
    return _ENCODER.encode(wire.ErrorResponse(wire.ErrorBody(code=code, message=message, field=field)))


def invalid_argument(error: msgspec.ValidationError | msgspec.DecodeError) -> InvalidArgument:
    """msgspec's message names the field (``Expected `int` <= 9 - at `$.priority```);
    keep it, and keep the field path for SDKs. A missing or unknown field is named inside
    the message (``Object missing required field `payload` - at `$.jobs[1]```), and its
    path is the object's plus that name."""
    message = str(error)
    _, _, at = message.partition(" - at `$")
    field = at.rstrip("`").lstrip(".") or None
    if named := _NAMED_FIELD.match(message):
        field = f"{field}.{named[1]}" if field else named[1]
    if not isinstance(error, msgspec.ValidationError):  # a ValidationError is also a DecodeError
        message = f"malformed JSON: {message}"
    return InvalidArgument(message, field=field)


def _response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, field: str | None = None
) -> Response:
    return Response(error_body(code, message, field), status_code=status, media_type=_JSON, headers=headers)


async def rivetq_error_response(request: Request, error: Exception) -> Response:
    assert isinstance(error, RivetQError)  # registered for RivetQError only
    status = STATUS_BY_CODE.get(error.code, 500)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return _response(status, error.code, error.message, headers, error.field)


async def http_exception_response(request: Request, error: Exception) -> Response:
    """Starlette's own 404/405 (unknown route, wrong method) in our error shape."""
    assert isinstance(error, HTTPException)  # registered for HTTPException only
    code = _CODE_BY_HTTP_STATUS.get(error.status_code, "invalid_argument")
    return _response(error.status_code, code, str(error.detail), dict(error.headers or {}))


async def send_error(send: Send, code: str, message: str, extra_headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    """Answer from an ASGI middleware, before any route runs."""
    body = error_body(code, message)
    headers = [(b"content-type", _JSON.encode()), (b"content-length", str(len(body)).encode()), *extra_headers]
    await send({"type": "http.response.start", "status": STATUS_BY_CODE[code], "headers": headers})
    await send({"type": "http.response.body", "body": body})
