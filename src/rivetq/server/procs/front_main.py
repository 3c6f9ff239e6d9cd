"""A front process: HTTP on the socket the supervisor bound, gRPC on the shared port,
and every queue call to the storage owner (or, on PostgreSQL, a full node of its own)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

from rivetq.errors import StorageUnavailable
from rivetq.server.app import FrontRuntime, Runtime, ServedRuntime
from rivetq.server.serve import Fatal, serve_runtime
from rivetq.settings import Settings

__all__ = ["run_front"]


async def run_front(settings: Settings, owner_socket: Path | None, http_fd: int, on_ready: Callable[[], None]) -> int:
    def make_runtime(fatal: Fatal) -> ServedRuntime:
        if owner_socket is None:
            return Runtime(settings, on_fatal=fatal)
        lost = StorageUnavailable("the storage owner process went away")
        return FrontRuntime(settings, owner_socket, on_owner_lost=lambda: fatal.stop("rivetqd_owner_lost", lost))

    return await serve_runtime(
        settings,
        make_runtime,
        lambda: socket.socket(fileno=http_fd),
        on_started=lambda sock, grpc: on_ready(),
        reuse_port=True,
    )
