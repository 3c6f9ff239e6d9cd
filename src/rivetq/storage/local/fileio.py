"""The file layer between the WAL and the OS, injectable so tests can make any write,
fsync or allocation fail (ENOSPC, EIO) the way a real disk would."""

from __future__ import annotations

import errno
import logging
import os
import shutil
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, Protocol

__all__ = ["DataSyncer", "FileIO"]

log = logging.getLogger("rivetq.storage.wal")


class DataSyncer(Protocol):
    """An asynchronous ``fdatasync`` on the running loop (a caio context)."""

    def fdsync(self, fd: int) -> Awaitable[object]: ...

    def close(self) -> None: ...


def _kernel_aio_syncer() -> DataSyncer:
    """Linux AIO: the kernel runs the flush and signals an eventfd the loop polls, so
    its completion needs no thread and no GIL. Where the kernel refuses AIO (an old or
    locked-down kernel), caio's C thread pool does the flush instead."""
    try:
        from caio import linux_aio_asyncio

        return _restarting_on_interrupt(linux_aio_asyncio.AsyncioContext)(max_requests=4)  # type: ignore[no-any-return]
    except (ImportError, OSError, SystemError) as error:
        log.warning("kernel AIO unavailable (%s); WAL flushes run in a thread pool", error)
        from caio import thread_aio_asyncio

        return thread_aio_asyncio.AsyncioContext(max_requests=4)  # type: ignore[no-untyped-call]


def _restarting_on_interrupt(context_class: Any) -> Any:
    """caio's completion callback lets ``io_getevents``' EINTR escape (it comes as
    ``SystemError(4, ...)``, not ``InterruptedError``), which happens whenever the
    process is stopped and resumed, as a profiler or debugger does: the loop logs the
    exception and the completions not yet read wait for the next flush's wake-up.
    Reading them again is always safe: a completion is reported once."""

    class RestartingContext(context_class):  # type: ignore[misc]
        def _on_read_event(self) -> None:
            while True:
                try:
                    super()._on_read_event()
                    return
                except (InterruptedError, SystemError) as error:
                    if not _is_interrupt(error):
                        raise

    return RestartingContext


def _is_interrupt(error: BaseException) -> bool:
    return isinstance(error, InterruptedError) or error.args[:1] == (errno.EINTR,)


class FileIO:
    """Thin wrappers over ``os``; a test subclass overrides the calls it breaks."""

    def open_new(self, path: Path) -> int:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)

    def open_existing(self, path: Path) -> int:
        return os.open(path, os.O_RDWR | os.O_CLOEXEC)

    def pwrite(self, fd: int, data: bytes, offset: int) -> int:
        return os.pwrite(fd, data, offset)

    def fdatasync(self, fd: int) -> None:
        os.fdatasync(fd)

    def data_syncer(self) -> DataSyncer:
        """What ``sync_data`` flushes through; made on the loop that will await it."""
        return _kernel_aio_syncer()

    async def sync_data(self, syncer: DataSyncer, fd: int) -> None:
        """``fdatasync(fd)`` without blocking the event loop."""
        await syncer.fdsync(fd)

    def allocate(self, fd: int, size: int) -> None:
        os.posix_fallocate(fd, 0, size)

    def truncate(self, fd: int, size: int) -> None:
        os.ftruncate(fd, size)

    def close(self, fd: int) -> None:
        os.close(fd)

    def rename(self, source: Path, target: Path) -> None:
        os.rename(source, target)

    def unlink(self, path: Path) -> None:
        path.unlink()

    def free_bytes(self, path: Path) -> int:
        """Bytes an unprivileged writer may still use on ``path``'s file system."""
        return shutil.disk_usage(path).free

    def fsync_dir(self, path: Path) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def write_all(self, fd: int, data: bytes, offset: int) -> None:
        """Write every byte (a short write continues where it stopped)."""
        view = memoryview(data)
        while view:
            written = self.pwrite(fd, bytes(view), offset)
            if written <= 0:
                raise OSError(f"pwrite wrote {written} bytes")
            view, offset = view[written:], offset + written
