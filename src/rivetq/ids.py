"""Job ids (UUIDv7: time-ordered) and lease ids (random)."""

from __future__ import annotations

import os
import re
import threading

__all__ = ["is_job_id", "new_job_id", "new_lease_id"]


class _RandomBytes:
    """``os.urandom`` read 4 KiB at a time: one ``getrandom`` syscall per ~200 ids instead
    of one or two per id (they showed up at ~4% of the server's time per request). The
    bytes are as unguessable as ``secrets``'; a forked child starts with a fresh buffer."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._buffer = b""
        self._pos = 0
        os.register_at_fork(after_in_child=self._discard)

    def _discard(self) -> None:
        self._buffer, self._pos = b"", 0

    def take(self, count: int) -> bytes:
        with self._lock:
            if self._pos + count > len(self._buffer):
                self._buffer, self._pos = os.urandom(self._size), 0
            start = self._pos
            self._pos += count
            return self._buffer[start : self._pos]


_random = _RandomBytes()


class _JobIdSequence:
    """Keeps ids made in this process in creation order, even within one millisecond,
    with a 12-bit counter in ``rand_a`` (RFC 9562 §6.2, method 1)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = 0
        self._counter = 0

    def next(self, now_ms: int) -> tuple[int, int]:
        with self._lock:
            if now_ms > self._last_ms:
                self._last_ms = now_ms
                self._counter = int.from_bytes(_random.take(2), "big") & 0x3FF
            else:
                self._counter += 1
                if self._counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                    self._last_ms, self._counter = self._last_ms + 1, 0
            return self._last_ms, self._counter


_sequence = _JobIdSequence()


def new_job_id(now_ms: int) -> str:
    """A UUIDv7 string that sorts after every id this process made before."""
    ms, counter = _sequence.next(now_ms)
    rand_b = int.from_bytes(_random.take(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand_b
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_job_id(text: str) -> bool:
    """Whether ``text`` has the shape of the ids ``new_job_id`` makes."""
    return _JOB_ID.fullmatch(text) is not None


def new_lease_id() -> str:
    """An unguessable lease id."""
    return _random.take(12).hex()
