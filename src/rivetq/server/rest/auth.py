"""Bearer-token auth and protected mode, as one ASGI middleware in front of the API.

Only ``/v1/`` and ``/debug/`` are guarded: health, metrics, the OpenAPI document, the
docs page and the UI's static files stay open (the UI asks for a token before it calls
the API). Tokens are compared in constant time and never logged.

Without tokens, a call from this machine must also name this machine in its ``Host``
header (``localhost``, an IP address, the machine's hostname): a web page whose own name
an attacker re-points at 127.0.0.1 (DNS rebinding) is same-origin with the server, so the
JSON content-type rule cannot stop it, but its requests carry the attacker's name.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import socket
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from rivetq.server.rest.errors import send_error
from rivetq.settings import is_loopback_host

__all__ = ["FOREIGN_HOST_MESSAGE", "PROTECTED_MODE_MESSAGE", "AuthMiddleware"]

PROTECTED_MODE_MESSAGE = (
    "RivetQ is running in protected mode: it listens beyond loopback without auth tokens, so it only "
    "answers clients on this machine. Either set bearer tokens (auth.tokens in config.yaml, or "
    "RIVETQ_AUTH_TOKENS=token1,token2) and send 'Authorization: Bearer <token>', or, if every client "
    "that can reach this address is trusted, set auth.protected_mode: false (RIVETQ_AUTH_PROTECTED_MODE=false)."
)
FOREIGN_HOST_MESSAGE = (
    "the Host header names another machine, as when a web page reaches this server through DNS "
    "rebinding: call it as localhost or by IP address, or set auth.tokens (RIVETQ_AUTH_TOKENS)"
)
_GUARDED = ("/v1/", "/debug/")
_BEARER = b"bearer "
_CHALLENGE = [(b"www-authenticate", b"Bearer")]


class AuthMiddleware:
    """``tokens`` non-empty: every guarded call needs one. Else, with ``protected`` set,
    guarded calls from clients beyond loopback get 403 explaining how to open up."""

    def __init__(self, app: ASGIApp, *, tokens: Sequence[str], protected: bool) -> None:
        self._app = app
        self._tokens = [token.encode() for token in tokens]
        self._protected = protected and not self._tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(_GUARDED):
            if self._tokens and not self._authorized(scope):
                await send_error(send, "unauthenticated", "missing or invalid bearer token", _CHALLENGE)
                return
            if not self._tokens and (refusal := _tokenless_refusal(scope, self._protected)):
                await send_error(send, "forbidden", refusal)
                return
        await self._app(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        presented = _bearer_token(scope)
        if presented is None:
            return False
        matched = False
        for token in self._tokens:  # no early exit: timing must not reveal which token matched
            matched |= hmac.compare_digest(presented, token)
        return matched


def _bearer_token(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return value[len(_BEARER) :].strip() if value[: len(_BEARER)].lower() == _BEARER else None
    return None


def _from_loopback(scope: Scope) -> bool:
    client = scope.get("client")
    return client is not None and _is_loopback_client(client[0])


def _tokenless_refusal(scope: Scope, protected: bool) -> str | None:
    """Why a call to a server without tokens is refused: a local one must name this machine
    (DNS rebinding), a remote one must not come at all in protected mode."""
    if _from_loopback(scope):
        return None if _names_this_machine(scope) else FOREIGN_HOST_MESSAGE
    return PROTECTED_MODE_MESSAGE if protected else None


def _names_this_machine(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"host":
            return _is_local_host_header(value)
    return True  # HTTP/1.0 without Host: not a browser


_HOSTNAME = socket.gethostname().lower()


@functools.lru_cache(maxsize=256)
def _is_local_host_header(value: bytes) -> bool:
    host = value.decode("latin-1").strip().lower()
    if host.startswith("["):  # an IPv6 literal
        return True
    host = host.rpartition(":")[0] if ":" in host else host
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return host in ("localhost", _HOSTNAME) or host.endswith(".localhost")


@functools.lru_cache(maxsize=4096)
def _is_loopback_client(host: str) -> bool:
    return is_loopback_host(host)  # parsing an address per request showed up in profiles
