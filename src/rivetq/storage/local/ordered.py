"""Ordered reads of the order keys: LMDB's keys, less those an overlay decides, merged
with the overlays' live keys (``Layers.ordered``).

Reads that take from the head of a range again and again (the next ready job of a
queue and priority, the next expiring lease) go through a window: the next ``window``
LMDB keys of that range, read once. LMDB changes only at a checkpoint, so between two
checkpoints a key the window dropped (an overlay decided it) never has to be looked at
again, and the window's position only moves forward: taking a million jobs from the
head costs a million skips in total, not a rescan of the tombstones per lease. A
checkpoint (``reset``) drops every window, as the deleted keys are then gone from LMDB.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from rivetq.storage.local.layers import Layers

__all__ = ["OrderedKeys"]

_FIRST_CHUNK = 8
_CHUNK = 256  # LMDB keys read per step of an unbounded range read, at most


@dataclass(slots=True)
class _Window:
    start: bytes  # where the next LMDB read of the range begins
    keys: deque[bytes] = field(default_factory=deque)
    exhausted: bool = False


class OrderedKeys:
    def __init__(self, layers: Layers, window: int) -> None:
        self._layers = layers
        self._window = window
        self._windows: dict[bytes, _Window] = {}

    def keys(self, prefix: bytes, start: bytes = b"") -> Iterator[bytes]:
        """Every live key with ``prefix`` from ``start`` on, in order (read in chunks)."""
        first = max(prefix, start)
        return _merge(self._lmdb_keys(prefix, first), self._overlay_keys(prefix, first))

    def head(self, prefix: bytes) -> Iterator[bytes]:
        """Every live key with ``prefix``, in order, the LMDB side through a window. The
        caller must not change the key space while it iterates."""
        return _merge(self._window_keys(prefix), self._overlay_keys(prefix, prefix))

    def surely_empty(self, prefix: bytes) -> bool:
        """True when no live key has ``prefix`` and that is known without reading LMDB
        (its window is used up): a cheap skip for the empty priorities of a queue."""
        window = self._windows.get(prefix)
        if window is None or window.keys or not window.exhausted:
            return False
        ordered = self._layers.ordered
        at = ordered.bisect_left(prefix)
        return at == len(ordered) or not ordered[at].startswith(prefix)

    def reset(self) -> None:
        """LMDB changed (a checkpoint): every window starts again."""
        self._windows.clear()

    def _overlay_keys(self, prefix: bytes, start: bytes) -> Iterator[bytes]:
        for key in self._layers.ordered.irange(minimum=start):
            if not key.startswith(prefix):
                return
            yield key

    def _lmdb_keys(self, prefix: bytes, start: bytes) -> Iterator[bytes]:
        """Chunks growing from a few keys (most reads want the first) to ``_CHUNK``."""
        layers, size = self._layers, _FIRST_CHUNK
        while True:
            chunk = layers.store.keys(prefix, start, size)
            yield from (key for key in chunk if not layers.overridden(key))
            if len(chunk) < size:
                return
            start = chunk[-1] + b"\x00"  # the least key after it
            size = min(2 * size, _CHUNK)

    def _window_keys(self, prefix: bytes) -> Iterator[bytes]:
        window = self._windows.get(prefix)
        if window is None:
            window = self._windows[prefix] = _Window(prefix)
        overridden, keys, at = self._layers.overridden, window.keys, 0
        while True:
            if at == len(keys):
                if window.exhausted:
                    return
                self._refill(prefix, window)
                continue
            key = keys[at]
            if not overridden(key):
                yield key
                at += 1
            elif at == 0:
                keys.popleft()  # decided by an overlay until the next checkpoint: never again
            else:
                at += 1

    def _refill(self, prefix: bytes, window: _Window) -> None:
        found = self._layers.store.keys(prefix, window.start, self._window)
        window.keys.extend(found)
        if len(found) < self._window:
            window.exhausted = True
        else:
            window.start = found[-1] + b"\x00"


def _merge(left: Iterator[bytes], right: Iterator[bytes]) -> Iterator[bytes]:
    """Two ascending streams of distinct keys as one (a live key is in only one side)."""
    a, b = next(left, None), next(right, None)
    while a is not None and b is not None:
        if a < b:
            yield a
            a = next(left, None)
        else:
            yield b
            b = next(right, None)
    if a is not None:
        yield a
        yield from left
    if b is not None:
        yield b
        yield from right
