"""Job ids (UUIDv7: time-ordered) and lease ids (random)."""

from __future__ import annotations

import os
import secrets
import threading

__all__ = ["new_job_id", "new_lease_id"]


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
                self._counter = int.from_bytes(os.urandom(2), "big") & 0x3FF
            else:
                self._counter += 1
                if self._counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                    self._last_ms, self._counter = self._last_ms + 1, 0
            return self._last_ms, self._counter


_sequence = _JobIdSequence()


def new_job_id(now_ms: int) -> str:
    """A UUIDv7 string that sorts after every id this process made before."""
    ms, counter = _sequence.next(now_ms)
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand_b
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_lease_id() -> str:
    """An unguessable lease id."""
    return secrets.token_hex(12)
