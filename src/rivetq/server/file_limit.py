"""Raising the process's open file limit at startup, as Go programs do: a soft limit of
1024 (the usual default) would make ``accept`` fail with EMFILE long before
``server.max_connections`` refused anyone, and a server out of descriptors answers nobody.

HTTP and gRPC each have a cap of ``server.max_connections``, and share one limit. A limit
below one cap is warned about: that cap cannot be reached. A limit below both caps
together is only noted: both protocols full at once is the rare case, and past the limit
new connections are not accepted until others close (the server itself goes on)."""

from __future__ import annotations

import resource

import structlog

__all__ = ["FILES_BESIDE_CONNECTIONS", "raise_open_file_limit"]

FILES_BESIDE_CONNECTIONS = 64  # log segments, LMDB, database pool, listeners, logs
_log = structlog.get_logger("rivetq.server")


def raise_open_file_limit(http_connections: int, grpc_connections: int) -> int:
    """Raise the soft limit to the hard one (or to what both caps need, when the hard
    limit is unlimited); say so when that is short of them. Returns the limit."""
    both = http_connections + grpc_connections + FILES_BESIDE_CONNECTIONS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = max(soft, both) if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    if soft != resource.RLIM_INFINITY and soft < both:
        _report_shortfall(soft, http_connections, grpc_connections)
    return soft


def _report_shortfall(limit: int, http_connections: int, grpc_connections: int) -> None:
    held = max(limit - FILES_BESIDE_CONNECTIONS, 0)
    fields = {
        "limit": limit,
        "connections_held": held,
        "connection_caps": f"HTTP {http_connections}" + (f" + gRPC {grpc_connections}" if grpc_connections else ""),
    }
    if limit >= max(http_connections, grpc_connections) + FILES_BESIDE_CONNECTIONS:
        _log.info("rivetqd_open_file_limit", **fields, detail="enough for either cap, not for both full at once")
        return
    _log.warning(
        "rivetqd_open_file_limit",
        **fields,
        detail=(
            f"the open file limit holds about {held} connections ({FILES_BESIDE_CONNECTIONS} files are kept for "
            "storage and listeners), fewer than server.max_connections allows; past it new connections are not "
            "accepted until others close. Raise the hard limit (ulimit -Hn, LimitNOFILE= in systemd) or lower "
            "server.max_connections"
        ),
    )
