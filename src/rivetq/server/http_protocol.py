"""uvicorn's httptools protocol with read deadlines, so a slow or silent client cannot hold
a connection (and the memory of a half-sent request) forever: uvicorn times out only idle
kept-alive connections.

A client gets ``header_timeout_s`` to send a request's headers, counted from its first
byte (or from connecting, for the first request), then ``body_timeout_s`` for the body.
Past a deadline it gets 408 and the connection closes; a connection that never sent a
byte is just closed. Headers above ``max_header_bytes`` get 431.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar, NamedTuple

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from rivetq.server.rest.errors import error_body

__all__ = ["ReadLimits", "guarded_protocol"]

_LINGER_S = 2.0


class ReadLimits(NamedTuple):
    header_timeout_s: float
    body_timeout_s: float
    max_header_bytes: int = 65_536


def _error_response(status: bytes, code: str, message: str) -> bytes:
    body = error_body(code, message)
    head = b"HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
    return head % (status, len(body)) + body


_REQUEST_TIMEOUT = _error_response(b"408 Request Timeout", "request_timeout", "the request was not received in time")
_HEADERS_TOO_LARGE = _error_response(
    b"431 Request Header Fields Too Large", "headers_too_large", "the request headers are too large"
)


def guarded_protocol(limits: ReadLimits) -> type[HttpToolsProtocol]:
    """The protocol class to hand uvicorn (``Config(http=...)``) for these limits."""

    class Protocol(GuardedHttpProtocol):
        read_limits = limits

    return Protocol


class GuardedHttpProtocol(HttpToolsProtocol):
    read_limits: ClassVar[ReadLimits]

    _deadline: asyncio.TimerHandle | None = None
    _reading_headers = False
    _header_bytes = 0
    _received_any = False
    _discarding = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.read_limits.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return
        self._received_any = True
        super().data_received(data)
        # Counted after parsing, so a body that arrives with its headers is no header byte.
        if self._reading_headers:
            self._header_bytes += len(data)
            if self._header_bytes > self.read_limits.max_header_bytes:
                self._refuse(_HEADERS_TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_headers = True
        self._header_bytes = 0
        if self._deadline is None:  # a first request keeps the deadline armed on connect
            self._arm(self.read_limits.header_timeout_s)

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        self._arm(self.read_limits.body_timeout_s)
        super().on_headers_complete()
        if self.pipeline:  # queued behind a running request, with reading paused: our wait, not the client's
            self._disarm()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def _arm(self, timeout_s: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(timeout_s, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if not self._received_any:
            self.transport.close()
        else:
            self._refuse(_REQUEST_TIMEOUT)

    def _refuse(self, response: bytes) -> None:
        """Answer ``response`` unless the app already started one, then close; a running
        request then reads a disconnect. Closing at once with unread input would reset the
        connection and could destroy the answer, so (as nginx does) the write side is shut
        and input is discarded until the client closes, for at most ``_LINGER_S``."""
        self._disarm()
        if self.transport.is_closing():
            return
        cycle = self.cycle  # the previous request's while the next one's headers arrive
        if cycle is None or cycle.response_complete or not cycle.response_started:
            self.transport.write(response)
        if not self.transport.can_write_eof():  # TLS
            self.transport.close()
            return
        self._discarding = True
        self.transport.write_eof()
        self._deadline = self.loop.call_later(_LINGER_S, self.transport.close)
