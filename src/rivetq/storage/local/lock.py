"""The data-dir lock: ``fcntl.flock`` on ``<data_dir>/LOCK``, held while open, so a
second process on the same directory fails at once with a clear message."""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from rivetq.errors import StorageUnavailable

__all__ = ["DataDirLock", "DataDirLocked", "lock_holder"]


class DataDirLocked(StorageUnavailable):
    """Another process owns the data directory."""


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / "LOCK"
        self._fd = -1

    def acquire(self) -> None:
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            holder = _read_holder(fd)
            os.close(fd)
            if error.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                raise
            by = f" by process {holder}" if holder else ""
            lock_file = self._path.absolute()
            message = f"data directory {lock_file.parent} is already in use{by} (lock file {lock_file})"
            raise DataDirLocked(message) from error
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def lock_holder(data_dir: Path) -> str | None:
    """The id of the process that holds ``data_dir`` (``""`` when it did not write one),
    or None when nobody does. It probes with a shared lock and lets go at once, creating
    nothing: a tool that reads the directory asks this first."""
    try:
        fd = os.open(data_dir / "LOCK", os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as error:
        if error.errno not in (errno.EWOULDBLOCK, errno.EACCES):
            raise
        return _read_holder(fd)
    finally:
        os.close(fd)  # closing releases a lock taken
    return None


def _read_holder(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode(errors="replace").strip()
    except OSError:
        return ""
