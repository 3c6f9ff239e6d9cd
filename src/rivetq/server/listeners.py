"""The server's ports: the HTTP listening sockets and the check that the gRPC port is free.

One process listens without SO_REUSEPORT: with it, a second server started by mistake on
the same port would be handed part of the connections. The fronts of ``--workers N``
share both ports with SO_REUSEPORT, so the supervisor first binds each without it, which
fails while anyone holds the port. For HTTP the supervisor then binds one socket per
front (the kernel spreads new connections over them evenly; one socket shared by all
fronts would let whichever front wakes first accept a whole burst) and keeps them, so a
restarted front takes over its predecessor's socket and queue. grpcio binds its own.
"""

from __future__ import annotations

import socket

from rivetq.errors import RivetQError
from rivetq.settings import parse_addr

__all__ = ["listen_http", "listen_http_per_front", "reserve_grpc_port", "url"]

_BACKLOG = 2048


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def listen_http(addr: str) -> socket.socket:
    host, port = parse_addr(addr)
    try:
        return socket.create_server((host, port), family=_family(host), backlog=_BACKLOG)
    except OSError as error:
        raise RivetQError(f"server.http_addr: cannot listen on {addr}: {error.strerror}") from None


def listen_http_per_front(addr: str, fronts: int) -> list[socket.socket]:
    """``fronts`` listening sockets on the one HTTP port (SO_REUSEPORT), after checking
    that nobody listens on it."""
    host, port = parse_addr(_reserve_port("server.http_addr", addr))
    try:
        return [
            socket.create_server((host, port), family=_family(host), backlog=_BACKLOG, reuse_port=True)
            for _ in range(fronts)
        ]
    except OSError as error:
        raise RivetQError(f"server.http_addr: cannot listen on {addr}: {error.strerror}") from None


def reserve_grpc_port(addr: str) -> str:
    """``addr`` with its port made concrete (a port 0 picked now), after checking that
    nobody listens on it; the fronts then bind it."""
    return _reserve_port("server.grpc_addr", addr)


def _reserve_port(setting: str, addr: str) -> str:
    host, port = parse_addr(addr)
    try:
        with socket.create_server((host, port), family=_family(host)) as probe:
            port = probe.getsockname()[1]
    except OSError as error:
        raise RivetQError(f"{setting}: cannot listen on {addr}: {error.strerror}") from None
    given_host = addr.rpartition(":")[0]
    return f"{given_host}:{port}"


def url(scheme: str, host: str, port: int) -> str:
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"
