"""``rivetqd --workers N``: binds the ports, starts one storage owner and N fronts,
restarts a front that is killed, stops everything (exit 1) if the owner dies or a front
stops on an error of its own (a dead background loop, a lost owner), and on
SIGTERM/SIGINT shuts them all down gracefully (fronts first finish their requests, then
the owner flushes and closes the storage).

On PostgreSQL there is no owner: each worker is a full node on the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import structlog

from rivetq.errors import RivetQError
from rivetq.server.listeners import listen_http_per_front, reserve_grpc_port
from rivetq.server.metrics import MULTIPROCESS_DIR_ENV
from rivetq.server.procs.run_dirs import run_directory
from rivetq.server.serve import log_started
from rivetq.settings import ServerSettings, Settings, parse_addr

__all__ = ["supervise"]

_STOP_GRACE_S = 40  # the fronts' graceful shutdown (30 s) and the owner's flush
_RESTART_BACKOFF_S = 1.0  # a front that dies within this of its start waits this long first
_log = structlog.get_logger("rivetq.server")


@dataclass(eq=False)  # compared and hashed by identity
class _Child:
    name: str
    args: list[str]
    http: socket.socket | None  # a front's listening socket, kept for the front that replaces it
    process: subprocess.Popen[bytes]
    ready_read: int
    exit_status: asyncio.Future[int]
    started_at: float = field(default_factory=time.monotonic)

    @classmethod
    def watch(
        cls, name: str, args: list[str], http: socket.socket | None, process: subprocess.Popen[bytes], ready_read: int
    ) -> _Child:
        """Its exit sets ``exit_status`` (a pidfd becomes readable when it exits)."""
        loop = asyncio.get_running_loop()
        pidfd = os.pidfd_open(process.pid)
        exit_status: asyncio.Future[int] = loop.create_future()

        def exited() -> None:
            loop.remove_reader(pidfd)
            os.close(pidfd)
            exit_status.set_result(process.wait())

        loop.add_reader(pidfd, exited)
        return cls(name, args, http, process, ready_read, exit_status)

    async def ready(self) -> bool:
        """True once the child serves; False if it exited first."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, os.read, self.ready_read, 1) == b"r"
        finally:
            os.close(self.ready_read)

    def go(self) -> None:
        """A ready front may start serving."""
        assert self.process.stdin is not None
        self.process.stdin.write(b"g")
        self.process.stdin.flush()

    def signal(self, sig: signal.Signals) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)


class _Supervisor:
    def __init__(self, settings: Settings, workers: int, http: list[socket.socket], run_dir: Path) -> None:
        self._settings = settings
        self._workers = workers
        self._http = http
        self._owner_socket = run_dir / "owner.sock"
        self._events: asyncio.Queue[_Child | signal.Signals] = asyncio.Queue()
        self._starting: set[asyncio.Task[None]] = set()
        self._env = {
            **os.environ,
            MULTIPROCESS_DIR_ENV: str(run_dir / "metrics"),
            "RIVETQ_SUPERVISOR_PID": str(os.getpid()),
        }
        (run_dir / "metrics").mkdir()

    def _spawn(self, name: str, args: list[str], http: socket.socket | None = None) -> _Child:
        """``args`` with ``{ready}`` (the fd to say ready on) and a front's ``{http}`` (the
        fd of ``http``, its listening socket)."""
        ready_read, ready_write = os.pipe()
        fds = [ready_write, *([http.fileno()] if http is not None else [])]
        argv = [sys.executable, "-m", "rivetq.server.procs.child", *args]
        argv = [part.replace("{ready}", str(ready_write)).replace("{http}", str(fds[-1])) for part in argv]
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, pass_fds=fds, env=self._env)
        os.close(ready_write)
        assert process.stdin is not None
        process.stdin.write(msgspec.json.encode(self._settings) + b"\n")
        process.stdin.flush()
        child = _Child.watch(name, args, http, process, ready_read)
        child.exit_status.add_done_callback(lambda _: self._events.put_nowait(child))
        return child

    def _spawn_front(self, index: int) -> _Child:
        name, http = f"front-{index}", self._http[index]
        if self._settings.storage.backend == "postgres":
            return self._spawn(name, ["node", name, "{ready}", "{http}"], http)
        return self._spawn(name, ["front", name, str(self._owner_socket), "{ready}", "{http}"], http)

    async def run(self) -> int:
        """The owner first; on PostgreSQL the first node first (it migrates the schema
        alone, and a database that refuses it stops the start with one error)."""
        postgres = self._settings.storage.backend == "postgres"
        first = (
            self._spawn_front(0) if postgres else self._spawn("owner", ["owner", str(self._owner_socket), "{ready}"])
        )
        if not await first.ready():
            return await first.exit_status  # it said why
        owner = None if postgres else first
        rest = {self._spawn_front(i) for i in range(int(postgres), self._workers)}
        fronts = rest | ({first} if postgres else set())
        children = rest | {first}
        if not all(await asyncio.gather(*(front.ready() for front in rest))):
            said = [front.process.returncode for front in fronts if (front.process.poll() or 0) > 0]
            await self._stop(children)
            return max(said, default=1)  # 2 (the configuration must change) wins over 1
        grpc = self._settings.server.grpc_addr
        log_started(self._settings, self._http[0], parse_addr(grpc)[1] if grpc else None, self._workers)
        for front in fronts:
            front.go()
        return await self._serve(owner, children)

    async def _serve(self, owner: _Child | None, children: set[_Child]) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._events.put_nowait, sig)
        while True:
            event = await self._events.get()
            if isinstance(event, signal.Signals):
                _log.info("rivetqd_stopping", signal=event.name)
                return await self._stop(children)
            if event not in children:
                continue
            children.discard(event)
            status = event.process.returncode
            if event is owner:
                _log.error("rivetqd_owner_died", status=status, detail="stopping every process")
                await self._stop(children)
                return 1
            if status == 1:  # it stopped itself on an error it logged, as one process would
                _log.error("rivetqd_worker_failed", process=event.name, detail="stopping every process")
                await self._stop(children)
                return 1
            _log.warning("rivetqd_worker_died", process=event.name, status=status, detail="starting it again")
            if time.monotonic() - event.started_at < _RESTART_BACKOFF_S:
                await asyncio.sleep(_RESTART_BACKOFF_S)
            front = self._spawn(event.name, event.args, event.http)
            children.add(front)
            starting = loop.create_task(self._start_again(front))
            self._starting.add(starting)
            starting.add_done_callback(self._starting.discard)

    async def _start_again(self, front: _Child) -> None:
        if await front.ready():
            front.go()
            _log.info("rivetqd_worker_started", process=front.name)

    async def _stop(self, children: set[_Child]) -> int:
        """SIGTERM to all; fronts finish first, then the owner (it waits for them); a
        child still there after the grace period is killed. The supervisor's copies of the
        HTTP sockets close first: once the fronts have closed theirs, a new connection is
        refused, not queued on a socket nobody will accept from (and then reset)."""
        for http in self._http:
            http.close()
        for child in children:
            child.signal(signal.SIGTERM)
        statuses = []
        for child in sorted(children, key=lambda child: child.name == "owner"):
            try:
                statuses.append(await asyncio.wait_for(asyncio.shield(child.exit_status), _STOP_GRACE_S))
            except TimeoutError:
                _log.error("rivetqd_stop_timeout", process=child.name, detail="killed")
                child.signal(signal.SIGKILL)
                statuses.append(await child.exit_status)
        _log.info("rivetqd_stopped")
        return 0 if all(status == 0 for status in statuses) else 1


def _child_settings(settings: Settings, grpc_addr: str, workers: int) -> Settings:
    """The fronts' settings: the gRPC port made concrete, and each front's share of
    ``server.max_connections`` (rounded up)."""
    server: ServerSettings = msgspec.structs.replace(
        settings.server, grpc_addr=grpc_addr, max_connections=-(-settings.server.max_connections // workers)
    )
    return msgspec.structs.replace(settings, server=server)


async def supervise(settings: Settings, workers: int) -> int:
    """Run ``workers`` front processes (and the storage owner) until a signal."""
    try:
        http = listen_http_per_front(settings.server.http_addr, workers)
        grpc_addr = reserve_grpc_port(settings.server.grpc_addr) if settings.server.grpc_addr else ""
    except RivetQError as error:
        _log.error("rivetqd_startup_failed", error=str(error))
        return 1
    with contextlib.ExitStack() as stack, run_directory() as run_dir:
        for sock in http:
            stack.enter_context(sock)
        supervisor = _Supervisor(_child_settings(settings, grpc_addr, workers), workers, http, Path(run_dir))
        return await supervisor.run()
