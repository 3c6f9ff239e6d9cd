"""Injected time. Nothing below the server reads the wall clock directly."""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "FakeClock", "SystemClock"]


class Clock(Protocol):
    def now_ms(self) -> int:
        """Milliseconds since the Unix epoch."""
        ...


class SystemClock:
    """The wall clock as read at start, advanced by the monotonic clock. A step of the
    wall clock while the server runs (NTP, an operator) then neither expires leases early
    nor makes delayed jobs due at once nor stalls a rate limit; a restart reads the wall
    clock again. (NTP's gradual corrections reach both clocks alike.)"""

    def __init__(self) -> None:
        self._wall_ns = time.time_ns()
        self._monotonic_ns = time.monotonic_ns()

    def now_ms(self) -> int:
        return (self._wall_ns + time.monotonic_ns() - self._monotonic_ns) // 1_000_000


class FakeClock:
    """A clock tests move by hand, so delay, lease and backoff tests never sleep."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._now_ms = start_ms

    def now_ms(self) -> int:
        return self._now_ms

    def advance(self, ms: int) -> None:
        if ms < 0:
            raise ValueError("a clock never goes back")
        self._now_ms += ms

    def set(self, now_ms: int) -> None:
        self._now_ms = now_ms
