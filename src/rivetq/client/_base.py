"""What the sync and async clients share: the description of one API call, the mapping
of error responses to the ``rivetq.errors`` tree, and the retry rule. No I/O here."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from rivetq import wire
from rivetq.errors import ConnectionFailed, InvalidArgument, RivetQError, error_for_code

__all__ = [
    "Call",
    "backoff_s",
    "connection_failed",
    "error_from_response",
    "may_retry",
    "path_segment",
    "request_headers",
]

T = TypeVar("T")

# Errors raised before a byte of the request left: any call may be retried.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# The request may have reached the server: only calls that are safe to repeat.
_MAYBE_SENT = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadTimeout, httpx.WriteTimeout)
_MAX_BACKOFF_S = 2.0
_ERROR_DECODER = msgspec.json.Decoder(wire.ErrorResponse)
_CODE_BY_STATUS = {
    400: "invalid_argument",
    401: "unauthenticated",
    404: "not_found",
    409: "state_conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    # A proxy or load balancer in front answers 502/504 while rivetqd restarts: as for
    # 503, the call may succeed later (the Go SDK's ErrUnavailable maps them alike).
    502: "storage_unavailable",
    503: "storage_unavailable",
    504: "storage_unavailable",
}


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API call: what to send and how to read a 2xx answer.

    ``retry_safe`` says whether repeating the call after it may have reached the server
    changes nothing (reads, extend, settings; enqueue only with an idempotency key).
    ``extra_timeout_s`` lengthens the read timeout of a long-poll."""

    method: str
    path: str
    parse: Callable[[bytes], T]
    body: bytes | None = None
    params: dict[str, str] = field(default_factory=dict)
    retry_safe: bool = False
    extra_timeout_s: float = 0.0


def path_segment(value: str, field: str) -> str:
    """``value`` as one URL path segment. An empty value, or ``.`` or ``..`` (which an
    HTTP client would resolve as a relative path), would name another route."""
    if not value or value in (".", ".."):
        raise InvalidArgument(f"{field} must not be empty, . or ..", field=field)
    return quote(value, safe="")


def request_headers(token: str | None) -> dict[str, str]:
    headers = {"Accept": "application/json", "User-Agent": "rivetq-python"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def error_from_response(status: int, body: bytes) -> RivetQError:
    """The server's ``{"error": {"code", "message"}}`` as an exception of the one tree;
    a body in another shape (a proxy's page) still maps by status."""
    field = None
    try:
        envelope = _ERROR_DECODER.decode(body)
        code, message, field = envelope.error.code, envelope.error.message, envelope.error.field
    except (msgspec.DecodeError, msgspec.ValidationError):
        code = _CODE_BY_STATUS.get(status, "internal")
        message = f"HTTP {status}: {body[:200].decode('utf-8', 'replace').strip()}"
    error = error_for_code(code, message)
    error.code = code  # keep codes that have no class of their own (e.g. not_found)
    error.field = field
    return error


def connection_failed(base_url: str, call: Call[Any], error: httpx.TransportError) -> ConnectionFailed:
    """The error names the server tried, since a refused connection alone does not say
    which address (a wrong ``RIVETQ_URL``, a server not started) was at fault."""
    detail = str(error) or type(error).__name__
    what = "cannot connect to" if isinstance(error, _NEVER_SENT) else "lost the connection to"
    return ConnectionFailed(f"{what} the RivetQ server at {base_url} ({call.method} {call.path}): {detail}")


def may_retry(call: Call[Any], error: httpx.TransportError, attempt: int, retries: int) -> bool:
    """``attempt`` counts from 0; the first try plus at most ``retries`` more."""
    if attempt >= retries:
        return False
    if isinstance(error, _NEVER_SENT):
        return True
    return call.retry_safe and isinstance(error, _MAYBE_SENT)


def backoff_s(attempt: int, base_s: float) -> float:
    """Exponential with equal jitter, so that many clients do not retry in step."""
    ceiling = min(_MAX_BACKOFF_S, base_s * 2**attempt)
    return random.uniform(ceiling / 2, ceiling)
