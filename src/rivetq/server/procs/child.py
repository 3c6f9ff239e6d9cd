"""Entry point of the processes a ``rivetqd --workers N`` supervisor starts:

    python -m rivetq.server.procs.child owner OWNER_SOCKET READY_FD
    python -m rivetq.server.procs.child front NAME OWNER_SOCKET READY_FD HTTP_FD
    python -m rivetq.server.procs.child node NAME READY_FD HTTP_FD      (PostgreSQL: a full node)

The settings arrive as a JSON line on standard input (so tokens never show in a process
list or the environment). A child writes one byte to READY_FD once it can serve; a front
then waits for the supervisor's go (one byte on standard input, sent once every front is
ready), so that a server answering ``/readyz`` has logged ``rivetqd_started``. Children
die with their supervisor (PR_SET_PDEATHSIG), so no orphan keeps the port or the data
directory's lock.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path

import msgspec

from rivetq.settings import Settings

__all__ = ["main"]

_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the supervisor died before the line above
        os._exit(1)


def _ready_signal(fd: int) -> None:
    os.write(fd, b"r")
    os.close(fd)


def _ready_then_wait_for_go(fd: int) -> None:
    _ready_signal(fd)
    if sys.stdin.buffer.read(1) != b"g":  # the supervisor is gone
        os._exit(1)


def main(argv: list[str]) -> int:
    import structlog
    import uvloop

    from rivetq.server.logging import configure_logging

    role, *rest = argv
    settings = msgspec.json.decode(sys.stdin.buffer.readline(), type=Settings)
    _die_with_parent(int(os.environ["RIVETQ_SUPERVISOR_PID"]))
    configure_logging(settings.logging)
    if role == "owner":
        from rivetq.server.procs.owner_main import run_owner

        structlog.contextvars.bind_contextvars(process="owner")
        socket_path, owner_ready_fd = rest
        return uvloop.run(run_owner(settings, Path(socket_path), lambda: _ready_signal(int(owner_ready_fd))))
    from rivetq.server.procs.front_main import run_front

    name, *more = rest
    structlog.contextvars.bind_contextvars(process=name)
    owner_socket = Path(more[0]) if role == "front" else None
    ready_fd, http_fd = (int(value) for value in more[-2:])
    return uvloop.run(run_front(settings, owner_socket, http_fd, lambda: _ready_then_wait_for_go(ready_fd)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
