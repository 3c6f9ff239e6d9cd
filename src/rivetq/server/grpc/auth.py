"""Who may call the RivetQ service: a bearer token in the ``authorization`` metadata when
the server has tokens; without tokens, in protected mode on a non-loopback address, only
loopback peers. Reflection and health stay open (they reveal only the public schema)."""

from __future__ import annotations

import hmac
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Final

from rivetq.errors import RivetQError, Unauthenticated
from rivetq.server.grpc.errors import Context, abort_with
from rivetq.server.grpc.wrapping import Handler, WrappingInterceptor, wrapped
from rivetq.settings import is_loopback_host

__all__ = ["PROTECTED_PREFIX", "Check", "GateInterceptor", "bearer_check", "loopback_check", "peer_host"]

PROTECTED_PREFIX: Final = "/rivetq.v1.RivetQ/"

Check = Callable[[Context], RivetQError | None]


def _bearer(context: Context) -> bytes:
    """The token of ``authorization: Bearer <token>``; the scheme's case does not matter
    (RFC 7235), as over REST."""
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and isinstance(value, str) and value[:7].lower() == "bearer ":
            return value[7:].strip().encode()
    return b""


def bearer_check(tokens: Sequence[str]) -> Check:
    """Every call needs ``authorization: Bearer <one of tokens>``."""
    accepted = [token.encode() for token in tokens]

    def check(context: Context) -> RivetQError | None:
        presented = _bearer(context)
        # Compare against every token so the time taken does not tell which one matched.
        matches = [hmac.compare_digest(presented, token) for token in accepted]
        if presented and any(matches):
            return None
        return Unauthenticated("missing or wrong bearer token in the `authorization` metadata")

    return check


def peer_host(peer: str) -> str | None:
    """The address of ``peer`` (``ipv4:127.0.0.1:5000``, ``ipv6:[::1]:5000``, which grpc
    also writes percent-encoded: ``ipv6:%5B::1%5D:5000``); None for ``unix:...``."""
    kind, _, address = peer.partition(":")
    if kind == "unix":
        return None
    return urllib.parse.unquote(address).rpartition(":")[0].strip("[]")


def _peer_is_loopback(peer: str) -> bool:
    host = peer_host(peer)
    return host is None or is_loopback_host(host)


def loopback_check(context: Context) -> RivetQError | None:
    """Protected mode: without tokens, a server on a public address answers only loopback."""
    if _peer_is_loopback(context.peer()):
        return None
    return Unauthenticated(
        "this server has no auth tokens and answers only loopback clients; "
        "set auth.tokens (RIVETQ_AUTH_TOKENS) or auth.protected_mode: false"
    )


def _guard_unary(behavior: Callable[..., Any], check: Check) -> Callable[..., Awaitable[Any]]:
    async def guarded(request: Any, context: Context) -> Any:
        error = check(context)
        if error is not None:
            await abort_with(context, error)
        return await behavior(request, context)

    return guarded


def _guard_stream(behavior: Callable[..., Any], check: Check) -> Callable[..., Any]:
    async def guarded(request: Any, context: Context) -> AsyncIterator[Any]:
        error = check(context)
        if error is not None:
            await abort_with(context, error)
        async for response in behavior(request, context):
            yield response

    return guarded


class GateInterceptor(WrappingInterceptor):
    """Runs ``check`` before every RivetQ RPC; a refusal ends the call with its status."""

    def __init__(self, check: Check) -> None:
        super().__init__()
        self._check = check

    def wrap(self, method: str, handler: Handler) -> Handler:
        if not method.startswith(PROTECTED_PREFIX):
            return handler
        check = self._check
        return wrapped(
            handler,
            unary=lambda behavior: _guard_unary(behavior, check),
            stream=lambda behavior: _guard_stream(behavior, check),
        )
