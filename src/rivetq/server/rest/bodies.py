"""Reading request bodies: a size cap enforced before and while reading, then one
typed msgspec decode whose errors name the field."""

from __future__ import annotations

from typing import TypeVar

import msgspec
from starlette.requests import Request

from rivetq import wire
from rivetq.errors import InvalidArgument, PayloadTooLarge
from rivetq.server.rest.errors import invalid_argument
from rivetq.server.rest.whole_numbers import integral_floats_as_ints

__all__ = ["BodyLimits", "check_empty_body", "decode_body"]

T = TypeVar("T")
_ENVELOPE_BYTES = 65_536  # room for the fields around one payload
_FLOAT_FOR_INT = "Expected `int`, got `float`"
_EMPTY = msgspec.json.Decoder(wire.EmptyRequest)


class BodyLimits(msgspec.Struct, frozen=True):
    """``single``: a request carrying at most one payload; ``batch``: batch requests."""

    single: int
    batch: int

    @classmethod
    def from_settings(cls, max_payload_bytes: int, max_request_bytes: int) -> BodyLimits:
        single = max_payload_bytes + _ENVELOPE_BYTES
        return cls(single=single, batch=max(single, max_request_bytes))


async def decode_body(request: Request, decoder: msgspec.json.Decoder[T], limit: int) -> T:
    """The body decoded as ``decoder``'s type; an empty body counts as ``{}`` so that
    requests whose fields are all optional need none."""
    body = await _read_capped(request, limit)
    _check_utf8(body)
    try:
        return _decode(decoder, body or b"{}")
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise invalid_argument(error) from None
    except RecursionError:  # msgspec's nesting limit: a client error, never a 500
        raise InvalidArgument("malformed JSON: nested too deeply") from None


async def check_empty_body(request: Request, limits: BodyLimits) -> None:
    """A call without fields (pause, resume, run) takes ``{}`` or no body; anything else
    (``not json``, ``{"x": 1}``) is a 400, as a misspelt field must not pass unnoticed."""
    await decode_body(request, _EMPTY, limits.single)


def _decode(decoder: msgspec.json.Decoder[T], body: bytes) -> T:
    """A strict decode; an integer field holding an integral float (``30000.0``) gets a
    second one with such floats written as integers."""
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as error:
        if _FLOAT_FOR_INT not in str(error) or (rewritten := integral_floats_as_ints(body, decoder.type)) is None:
            raise
    return decoder.decode(rewritten)


async def _read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _check_utf8(body: bytes) -> None:
    """JSON is UTF-8 (RFC 8259); msgspec passes raw payload bytes through unchecked, and
    they must not reach storage or other clients."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidArgument(f"malformed JSON: invalid UTF-8 at byte {error.start}") from None


def _too_large(size: int, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body of {size} bytes or more is over the limit of {limit} bytes")
