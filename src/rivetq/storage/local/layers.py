"""The logical key space: LMDB plus in-memory overlays of the changes since the last
checkpoint, and the transaction that changes it.

Reads look at the active overlay, then the generation a checkpoint is writing, then
LMDB. A ``Txn`` applies each change at once (so the next decision on the event loop
sees it) and remembers the value it replaced, so that a failed WAL write can be undone
exactly, newest first.

The live keys of the ordered tables (``order.ORDER_TAGS``) in the overlays are also kept
sorted, so ordered reads (``ordered.OrderedKeys``) can merge them with LMDB's; so are
those of the few small tables read whole (``SCANNED_TAGS``: schedules, which the
scheduler reads every second), so that reading them does not walk the whole overlay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from sortedcontainers import SortedSet  # type: ignore[import-untyped]

from rivetq.storage.local.codec import SCHEDULE
from rivetq.storage.local.kv import KVStore
from rivetq.storage.local.order import ORDER_TAGS

__all__ = ["SCANNED_TAGS", "ChangeListener", "Layers", "Txn"]

SCANNED_TAGS = frozenset((SCHEDULE,))

_MISSING = object()
ChangeListener = Callable[[bytes, bytes | None, bytes | None], None]


class Layers:
    def __init__(self, store: KVStore) -> None:
        self.store = store
        self.active: dict[bytes, bytes | None] = {}
        self.frozen: dict[bytes, bytes | None] | None = None
        self.ordered: SortedSet = SortedSet()  # order keys with a live value in an overlay
        self.scanned: SortedSet = SortedSet()  # keys of SCANNED_TAGS with a live value in an overlay
        self._born: set[bytes] = set()  # order keys set in the active overlay that LMDB lacks

    def get(self, key: bytes) -> bytes | None:
        value = self.active.get(key, _MISSING)
        if value is _MISSING and self.frozen is not None:
            value = self.frozen.get(key, _MISSING)
        if value is _MISSING:
            return self.store.get(key)
        return value  # type: ignore[return-value]

    def set(self, key: bytes, value: bytes | None) -> None:
        tag = key[:1]
        if tag in ORDER_TAGS:
            self._set_order_key(key, value)
            return
        if tag in SCANNED_TAGS:
            if value is None:
                self.scanned.discard(key)
            else:
                self.scanned.add(key)
        self.active[key] = value

    def _set_order_key(self, key: bytes, value: bytes | None) -> None:
        """Order keys are set only by ``Index.on_meta``, and LMDB holds exactly the ones
        its job records imply; a key those imply is set again only after an overlay
        deleted it. So an order key set while no overlay holds it is new to LMDB too, and
        deleting it within the same active overlay leaves nothing, not a tombstone: a
        job enqueued, leased and acked between two checkpoints costs them no order key."""
        if value is None:
            self.ordered.discard(key)
            if key in self._born:
                self._born.discard(key)
                del self.active[key]
                return
        else:
            self.ordered.add(key)
            if not self.overridden(key):
                self._born.add(key)
        self.active[key] = value

    def overridden(self, key: bytes) -> bool:
        """Whether an overlay decides ``key`` (so LMDB's value, if any, is stale)."""
        return key in self.active or (self.frozen is not None and key in self.frozen)

    def freeze(self) -> dict[bytes, bytes | None]:
        """Start a new overlay; the frozen one (merged with any left by a failed
        checkpoint) is what the next checkpoint writes."""
        if self.frozen is None:
            self.frozen = self.active
        else:
            self.frozen.update(self.active)
        self.active = {}
        self._born = set()  # in the frozen overlay now: a deletion must override them
        return self.frozen

    def checkpointed(self) -> None:
        """The frozen overlay is in LMDB now: only the active one's keys stay sorted here."""
        self.frozen = None
        live = [key for key, value in self.active.items() if value is not None]
        self.ordered = SortedSet(key for key in live if key[:1] in ORDER_TAGS)
        self.scanned = SortedSet(key for key in live if key[:1] in SCANNED_TAGS)

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Every live (key, value) with ``prefix``: LMDB first, overlays override."""
        if prefix[:1] in SCANNED_TAGS:
            return self._scan_tracked(prefix)
        return self._scan_overlays(prefix)

    def _scan_tracked(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        live = [(key, self.get(key)) for key in self.scanned.irange(minimum=prefix) if key.startswith(prefix)]
        for key, value in self.store.scan(prefix):
            if not self.overridden(key):
                yield key, value
        for key, maybe in live:
            if maybe is not None:
                yield key, maybe

    def _scan_overlays(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        overlay = dict(self.frozen or {})
        overlay.update(self.active)
        for key, value in self.store.scan(prefix):
            if key not in overlay:
                yield key, value
        for key, maybe in overlay.items():
            if maybe is not None and key.startswith(prefix):
                yield key, maybe


class Txn:
    """The changes of one write operation: applied at once, logged for the WAL record,
    undoable."""

    __slots__ = ("_layers", "_listener", "changes")

    def __init__(self, layers: Layers, listener: ChangeListener) -> None:
        self._layers = layers
        self._listener = listener
        self.changes: list[tuple[bytes, bytes | None, bytes | None]] = []  # key, old, new

    def get(self, key: bytes) -> bytes | None:
        return self._layers.get(key)

    def put(self, key: bytes, value: bytes | None) -> None:
        old = self._layers.get(key)
        self._layers.set(key, value)
        self.changes.append((key, old, value))
        self._listener(key, old, value)

    def undo(self) -> None:
        for key, old, new in reversed(self.changes):
            self._layers.set(key, old)
            self._listener(key, new, old)
        self.changes.clear()
