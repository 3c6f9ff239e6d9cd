"""The server's ports: the HTTP listening socket (bound once, shared by every front
process) and the check that the gRPC port is free.

Neither uses SO_REUSEPORT: with it, a second server started by mistake on the same port
would be handed part of the connections. The fronts of ``--workers N`` must share the
gRPC port with SO_REUSEPORT (grpcio binds its own sockets), so the supervisor first
binds it without, which fails while anyone holds it.
"""

from __future__ import annotations

import socket

from rivetq.errors import RivetQError
from rivetq.settings import parse_addr

__all__ = ["listen_http", "reserve_grpc_port", "url"]


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def listen_http(addr: str) -> socket.socket:
    host, port = parse_addr(addr)
    try:
        return socket.create_server((host, port), family=_family(host), backlog=2048)
    except OSError as error:
        raise RivetQError(f"server.http_addr: cannot listen on {addr}: {error.strerror}") from None


def reserve_grpc_port(addr: str) -> str:
    """``addr`` with its port made concrete (a port 0 picked now), after checking that
    nobody listens on it; the fronts then bind it."""
    host, port = parse_addr(addr)
    try:
        with socket.create_server((host, port), family=_family(host)) as probe:
            port = probe.getsockname()[1]
    except OSError as error:
        raise RivetQError(f"server.grpc_addr: cannot listen on {addr}: {error.strerror}") from None
    given_host = addr.rpartition(":")[0]
    return f"{given_host}:{port}"


def url(scheme: str, host: str, port: int) -> str:
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"
