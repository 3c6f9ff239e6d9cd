"""Raising the process's open file limit at startup, as Go programs do: a soft limit of
1024 (the usual default) would make ``accept`` fail with EMFILE long before
``server.max_connections`` refused anyone, and a server out of descriptors answers nobody."""

from __future__ import annotations

import resource

import structlog

__all__ = ["FILES_BESIDE_CONNECTIONS", "raise_open_file_limit"]

FILES_BESIDE_CONNECTIONS = 64  # log segments, LMDB, database pool, listeners, logs
_log = structlog.get_logger("rivetq.server")


def raise_open_file_limit(connections: int) -> int:
    """Raise the soft limit to the hard one (or to what ``connections`` needs, when the
    hard limit is unlimited); warn when that is still short of it. Returns the limit."""
    wanted = connections + FILES_BESIDE_CONNECTIONS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = max(soft, wanted) if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    if soft != resource.RLIM_INFINITY and soft < wanted:
        _log.warning(
            "rivetqd_open_file_limit",
            limit=soft,
            wanted=wanted,
            detail="the hard open file limit (ulimit -Hn) is below server.max_connections; raise it or lower that",
        )
    return soft
