"""Disk space as an alarm, not a dead end (as etcd's space quota).

While the file system has room, a preallocated ``<data_dir>/RESERVE`` file holds
``reserve_bytes``. Once free space falls below ``low_water_bytes`` the alarm goes on: the
reserve is released, writes that grow the data (enqueues) are refused with a reason, and
everything that drains it (leases, acks, nacks, purges, checkpoints, which delete WAL
segments) goes on in the released space. The alarm goes off by itself once there is room
for the reserve again and then some, and the reserve is taken back.
"""

from __future__ import annotations

import errno
import logging
import time
from collections.abc import Callable
from pathlib import Path

from rivetq.storage.local.fileio import FileIO

__all__ = ["SpaceGuard"]

log = logging.getLogger("rivetq.storage.local")

_CHECK_EVERY_S = 0.05  # free space is read at most this often (a statvfs per enqueue adds up)


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"


class SpaceGuard:
    def __init__(
        self, io: FileIO, data_dir: Path, *, reserve_bytes: int, low_water_bytes: int, on_alarm: Callable[[], None]
    ) -> None:
        self._io, self._dir, self._on_alarm = io, data_dir, on_alarm
        self._reserve = data_dir / "RESERVE"
        self.reserve_bytes, self.low_water_bytes = reserve_bytes, low_water_bytes
        self.free_bytes = 0
        self.alarm: str | None = None
        self._checked_at = float("-inf")

    def open(self) -> None:
        """Take the reserve (kept from the last run if it is there), then look at the space."""
        if not self._reserve.exists() and not self._take_reserve():
            self._raise_alarm(self._io.free_bytes(self._dir))
        self.check(force=True)

    def check(self, *, force: bool = False) -> str | None:
        """The alarm's reason, or None; free space is read again when due (under the
        alarm, every time: it goes off as soon as space returns)."""
        now = time.monotonic()
        if force or self.alarm is not None or now - self._checked_at >= _CHECK_EVERY_S:
            self._checked_at = now
            self._update(self._io.free_bytes(self._dir))
        return self.alarm

    def _update(self, free: int) -> None:
        self.free_bytes = free
        if self.alarm is None and free < self.low_water_bytes:
            self._raise_alarm(free)
        elif self.alarm is not None and free >= self.low_water_bytes + self.reserve_bytes and self._take_reserve():
            self.alarm = None
            log.warning("disk space recovered: %s free on %s; enqueues accepted again", _mib(free), self._dir)

    def _raise_alarm(self, free: int) -> None:
        self.alarm = (
            f"disk space low: {_mib(free)} free on {self._dir}, below {_mib(self.low_water_bytes)}: enqueues are "
            f"refused until space is freed; leases, acks, nacks and purges go on in the released "
            f"{_mib(self.reserve_bytes)} reserve"
        )
        log.error("%s", self.alarm)
        if self._reserve.exists():
            self._reserve.unlink()
            self._io.fsync_dir(self._dir)
        self._on_alarm()

    def _take_reserve(self) -> bool:
        temp = self._reserve.with_name("RESERVE.tmp")
        temp.unlink(missing_ok=True)
        fd = self._io.open_new(temp)
        try:
            self._io.allocate(fd, self.reserve_bytes)
            self._io.rename(temp, self._reserve)
        except OSError as error:
            temp.unlink(missing_ok=True)
            if error.errno != errno.ENOSPC:
                raise
            return False
        finally:
            self._io.close(fd)
        self._io.fsync_dir(self._dir)
        return True
