"""The storage owner's side: serves the ``QueueManager`` to front processes over a Unix
socket. Calls are pipelined: each runs as its own task, and the replies ready in one
event-loop pass go out in one write."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import msgspec

from rivetq.errors import InvalidArgument, RivetQError
from rivetq.manager import QueueManager
from rivetq.server.procs.calls import CALLS
from rivetq.server.procs.frames import ERROR, EVENT, OK, FramedProtocol, frame
from rivetq.service import LocalStorageView
from rivetq.storage.base import Storage

__all__ = ["SUBSCRIBE", "UNSUBSCRIBE", "OwnerServer"]

SUBSCRIBE: Final = 0xFFFF  # request tags: send me lease events (a front with a StreamLease open),
UNSUBSCRIBE: Final = 0xFFFE  # and stop
_log = logging.getLogger("rivetq.owner")
_encode = msgspec.msgpack.Encoder().encode

Target = Callable[..., Awaitable[Any]]


class _Connection(FramedProtocol):
    def __init__(self, server: OwnerServer) -> None:
        super().__init__()
        self._server = server
        self._running: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._server.connections.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        self._server.connections.discard(self)
        self._server.subscribers.discard(self)
        self._server.changed.set()

    def frame_received(self, call_id: int, tag: int, body: bytes) -> None:
        if tag == SUBSCRIBE:
            self._server.subscribers.add(self)
        elif tag == UNSUBSCRIBE:
            self._server.subscribers.discard(self)
        else:
            self._start(call_id, tag, body)

    def _start(self, call_id: int, tag: int, body: bytes) -> None:
        try:
            call = CALLS[tag]
            params = call.params_decoder.decode(body)
        except (IndexError, msgspec.DecodeError) as error:
            self._fail(call_id, InvalidArgument(f"malformed call: {error}"))
            return
        target = self._server.targets[tag]
        task = self._loop.create_task(self._run(call_id, target, msgspec.structs.asdict(params)))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, call_id: int, target: Target, arguments: dict[str, Any]) -> None:
        try:
            result = await target(**arguments)
        except RivetQError as error:
            self._fail(call_id, error)
        except Exception as error:
            _log.exception("call failed")
            self._fail(call_id, RivetQError(f"internal error: {type(error).__name__}"))
        else:
            self.send(frame(call_id, OK, _encode(result)))

    def _fail(self, call_id: int, error: RivetQError) -> None:
        self.send(frame(call_id, ERROR, _encode((error.code, error.message, error.field))))


class OwnerServer:
    """Serves ``manager`` (and the storage's status) on a Unix socket; tells subscribed
    fronts of every lease the manager releases or extends."""

    def __init__(self, manager: QueueManager, storage: Storage) -> None:
        self.connections: set[_Connection] = set()
        self.subscribers: set[_Connection] = set()
        self.changed = asyncio.Event()
        self.targets: list[Target] = [
            LocalStorageView(storage).storage_status if call.name == "storage_status" else getattr(manager, call.name)
            for call in CALLS
        ]
        manager.add_lease_listener(self)
        self._server: asyncio.Server | None = None

    async def start(self, path: Path) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_unix_server(lambda: _Connection(self), str(path))

    def released(self, job_id: str, lease_id: str) -> None:
        self._tell(("released", job_id, lease_id))

    def extended(self, job_id: str, lease_id: str, expires_at_ms: int) -> None:
        self._tell(("extended", job_id, lease_id, expires_at_ms))

    def _tell(self, event: tuple[str | int, ...]) -> None:
        if self.subscribers:
            data = frame(0, EVENT, _encode(event))
            for connection in self.subscribers:
                connection.send(data)

    async def wait_fronts_gone(self, timeout_s: float) -> None:
        """Until every front has disconnected (they finish their requests first), or the timeout."""
        if self._server is not None:
            self._server.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.connections and loop.time() < deadline:
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), deadline - loop.time())
            except TimeoutError:
                break
