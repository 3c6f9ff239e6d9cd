"""The storage owner process: opens the storage, runs the manager (lease reaper, group
commit, long-polls) and serves it to the fronts until SIGTERM/SIGINT. Shutdown: release
the long-polls, answer the fronts until they have gone, then close the storage."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path

import structlog

from rivetq.errors import RivetQError, StorageSetupFailed
from rivetq.server.app import Runtime
from rivetq.server.procs.owner import OwnerServer
from rivetq.settings import Settings

__all__ = ["run_owner"]

_FRONTS_GONE_S = 35  # above the fronts' own graceful shutdown (30 s)
_log = structlog.get_logger("rivetq.server")


async def run_owner(settings: Settings, socket_path: Path, on_ready: Callable[[], None]) -> int:
    stop = asyncio.Event()
    failed: list[BaseException] = []

    def fatal(error: BaseException) -> None:
        _log.error("rivetqd_background_loop_died", error=repr(error))
        failed.append(error)
        stop.set()

    runtime = Runtime(settings, on_fatal=fatal)
    try:
        await runtime.start()
    except (RivetQError, OSError) as error:
        _log.error("rivetqd_startup_failed", error=str(error))
        return 2 if isinstance(error, StorageSetupFailed) else 1
    try:
        owner = OwnerServer(runtime.manager, runtime.storage)
        await owner.start(socket_path)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        on_ready()
        await stop.wait()
        _log.info("rivetqd_owner_stopping")
        await runtime.drain()
        await owner.wait_fronts_gone(_FRONTS_GONE_S)
    finally:
        await runtime.stop()
    _log.info("rivetqd_owner_stopped")
    return 1 if failed else 0
