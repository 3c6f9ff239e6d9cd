"""uvicorn's httptools protocol with read deadlines, so a slow or silent client cannot hold
a connection (and the memory of a half-sent request) forever: uvicorn times out only idle
kept-alive connections.

A client gets ``header_timeout_s`` to send a request's headers, counted from its first
byte (or from connecting, for the first request), then ``body_timeout_s`` for the body.
Past a deadline it gets 408 and the connection closes; a connection that never sent a
byte is just closed. Headers above ``max_header_bytes`` get 431. A connection beyond
``max_connections`` gets 503 as soon as it opens. With ``log_refusals`` each of these
answers gets an access log line; one the app is still reading gets its line from the app's
middleware when the app is done, with the refusal's status (``observed.REFUSED``).

Once shutdown begins (``stop_taking_requests``) every new request, on a connection kept
alive or opened meanwhile, is answered 503 with ``Connection: close``; an idle connection
stays open ``_SHUTDOWN_LINGER_S`` for that (closed at once, a request the client sent just
then would meet a closed socket and no answer).

A request only stores its deadline (arming and cancelling timers costs microseconds per
request); one sweeper task per server checks the open connections a few times per
timeout, and ends when the last connection closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Set
from typing import ClassVar, NamedTuple, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from rivetq.server.access_log import log_refusal
from rivetq.server.coalesce import CoalescedWrites
from rivetq.server.observed import REFUSED
from rivetq.server.rest.errors import error_body

__all__ = ["ConnectionLimits", "guarded_protocol", "stop_taking_requests"]

_LINGER_S = 2.0
_SHUTDOWN_LINGER_S = 1.0
_MAX_SWEEP_PERIOD_S = 1.0


class ConnectionLimits(NamedTuple):
    header_timeout_s: float
    body_timeout_s: float
    max_connections: int
    max_header_bytes: int = 65_536
    log_refusals: bool = False  # the access log is on

    @property
    def sweep_period_s(self) -> float:
        return min(self.header_timeout_s / 4, self.body_timeout_s / 4, _MAX_SWEEP_PERIOD_S)


class _Refusal(NamedTuple):
    status: int
    code: str
    response: bytes


def _refusal(status: int, reason: bytes, code: str, message: str) -> _Refusal:
    body = error_body(code, message)
    head = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
    return _Refusal(status, code, head % (status, reason, len(body)) + body)


_REQUEST_TIMEOUT = _refusal(408, b"Request Timeout", "request_timeout", "the request was not received in time")
_TOO_MANY_CONNECTIONS = _refusal(
    503, b"Service Unavailable", "too_many_connections", "the server has too many open connections; retry later"
)
_SHUTTING_DOWN = _refusal(
    503, b"Service Unavailable", "storage_unavailable", "the server is shutting down: retry on a new connection"
)
_HEADERS_TOO_LARGE = _refusal(
    431, b"Request Header Fields Too Large", "headers_too_large", "the request headers are too large"
)


def guarded_protocol(server_limits: ConnectionLimits) -> type[HttpToolsProtocol]:
    """The protocol class to hand uvicorn (``Config(http=...)``) for these limits; each
    call makes a class of its own, so each server has its own sweeper."""

    class Protocol(CoalescedWrites, GuardedHttpProtocol):
        limits = server_limits

    return Protocol


def stop_taking_requests(protocol_class: type[asyncio.Protocol], connections: Set[asyncio.Protocol]) -> None:
    """Shutdown's first step: new requests are answered 503 with ``Connection: close``
    from now on; running ones finish and close their connection."""
    if issubclass(protocol_class, GuardedHttpProtocol):
        protocol_class.shutting_down = True
    for connection in list(connections):
        if isinstance(connection, GuardedHttpProtocol):
            connection.shutdown()


class GuardedHttpProtocol(HttpToolsProtocol):
    limits: ClassVar[ConnectionLimits]
    _sweeper: ClassVar[asyncio.Task[None] | None] = None
    shutting_down: ClassVar[bool] = False

    _deadline_at: float | None = None  # loop time by which the current read must be done
    _reading_headers = False
    _header_bytes = 0  # of the current request's headers in earlier reads
    _read_size = 0  # of the read being parsed
    _received_any = False
    _discarding = False
    _linger: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._refuse(_TOO_MANY_CONNECTIONS)
            return
        self._deadline_at = self.loop.time() + self.limits.header_timeout_s
        cls = type(self)
        if cls._sweeper is None:
            cls._sweeper = self.loop.create_task(cls._sweep(self.connections), name="rivetq-http-deadlines")

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadline_at = None
        if self._linger is not None:
            self._linger.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return
        self._received_any = True
        self._read_size = len(data)
        super().data_received(data)
        # Counted after parsing, so a body that arrives with its headers is no header byte.
        if self._reading_headers:
            self._header_bytes += len(data)
            if self._header_bytes > self.limits.max_header_bytes:
                self._refuse(_HEADERS_TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_headers = True
        self._header_bytes = 0
        if self._deadline_at is None:  # a first request keeps the deadline set on connect
            self._deadline_at = self.loop.time() + self.limits.header_timeout_s

    def shutdown(self) -> None:
        """uvicorn's graceful close, which closes an idle connection at once: here it
        lingers, so a request already on its way gets its 503 (see the module doc)."""
        if self._linger is not None or self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            self._linger = self.loop.call_later(_SHUTDOWN_LINGER_S, self.transport.close)
        else:
            cycle.keep_alive = False

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        if self.shutting_down:
            self._refuse(_SHUTTING_DOWN)
            return
        if self._header_bytes + self._read_size > self.limits.max_header_bytes and self._headers_too_large():
            self._refuse(_HEADERS_TOO_LARGE)  # the app never sees the request
            return
        self._deadline_at = self.loop.time() + self.limits.body_timeout_s
        super().on_headers_complete()
        if self.pipeline:  # queued behind a running request, with reading paused: our wait, not the client's
            self._deadline_at = None

    def _headers_too_large(self) -> bool:
        """Whether the headers parsed exceed the limit: those that came in one read with
        their end were not counted as they arrived."""
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        return size > self.limits.max_header_bytes

    def on_body(self, body: bytes) -> None:
        if not self._discarding:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._deadline_at = None
        if not self._discarding:
            super().on_message_complete()

    @classmethod
    async def _sweep(cls, connections: Set[object]) -> None:
        loop = asyncio.get_running_loop()
        try:
            while connections:
                await asyncio.sleep(cls.limits.sweep_period_s)
                now = loop.time()
                for protocol in list(connections):
                    if not isinstance(protocol, GuardedHttpProtocol):
                        continue
                    deadline = protocol._deadline_at
                    if deadline is not None and deadline <= now:
                        protocol._timed_out()
        finally:
            cls._sweeper = None

    def _timed_out(self) -> None:
        if not self._received_any:
            self._deadline_at = None
            self.transport.close()
        else:
            self._refuse(_REQUEST_TIMEOUT)

    def _refuse(self, refusal: _Refusal) -> None:
        """Answer ``refusal`` unless the app already started a response, then close; a running
        request then reads a disconnect. Closing at once with unread input would reset the
        connection and could destroy the answer, so (as nginx does) the write side is shut
        and input is discarded until the client closes, for at most ``_LINGER_S``."""
        self._deadline_at = None
        if self.transport.is_closing():
            return
        cycle = self.cycle  # the previous request's while the next one's headers arrive
        if cycle is None or cycle.response_complete or not cycle.response_started:
            self.transport.write(refusal.response)
            if cycle is not None and not cycle.response_complete:  # the app is still at it and observes it
                cast(dict[str, object], cycle.scope)[REFUSED] = (refusal.status, refusal.code)
            elif self.limits.log_refusals:
                log_refusal(self.scope, refusal.status, refusal.code, self.client)
        self._discarding = True
        if self._linger is not None:
            self._linger.cancel()
        if not self.transport.can_write_eof():  # TLS
            self.transport.close()
            return
        self.transport.write_eof()
        self._linger = self.loop.call_later(_LINGER_S, self.transport.close)
