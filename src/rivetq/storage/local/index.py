"""The indexes over the job metadata: order keys in the key space, small state in memory.

Every change of an ``m`` record is mirrored here (``on_meta``, from the transaction's
listener, on undo, and on WAL replay): the order keys it implies (``order``) are set
and deleted in the overlay next to it, so checkpoints write them to LMDB like any key,
and the queue's counts move. What stays in memory is per queue (its record, its counts,
how far the delayed count has been brought up to date), never per job, so memory does
not grow with the backlog and a start reads no job.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from rivetq.models import JobState
from rivetq.storage.local.codec import QUEUE, JobMeta, QueueRecord, queue_decoder
from rivetq.storage.local.layers import Layers
from rivetq.storage.local.order import (
    COUNTS,
    LEASES,
    Counts,
    count_key,
    dead_prefix,
    delayed_prefix,
    due_ms,
    has_delayed_key,
    inflight_prefix,
    job_prefix,
    lease_job_id,
    order_keys,
    ready_eta_ms,
    ready_job_id,
    ready_prefix,
    time_bytes,
)
from rivetq.storage.local.ordered import OrderedKeys

__all__ = ["Index", "QueueIndex"]

_BEFORE_TIME = -(2**62)
_PRIORITIES = range(9, -1, -1)
# The states with their own listing keys; the others (and no state) list every job.
_LISTED_BY_STATE: dict[JobState | None, Callable[[str], bytes]] = {
    JobState.INFLIGHT: inflight_prefix,
    JobState.DEAD: dead_prefix,
}


@dataclass(slots=True)
class QueueIndex:
    name: str
    record: QueueRecord | None = None  # None until the queue exists
    counts: Counts = field(default_factory=Counts)
    # The ``d`` keys due by ``promoted_ms`` (``due``) are counted, so the delayed count
    # only reads the ``d`` keys that came due since.
    promoted_ms: int = _BEFORE_TIME
    due: int = 0

    def note(self, meta: JobMeta, sign: int) -> None:
        self.counts.add(meta, sign)
        if has_delayed_key(meta) and meta.eta_ms <= self.promoted_ms:
            self.due += sign


class Index:
    """All queues' indexes; changed only through ``on_meta`` / ``on_queue``."""

    def __init__(self, layers: Layers, window: int) -> None:
        self.queues: dict[str, QueueIndex] = {}
        self._layers = layers
        self._keys = OrderedKeys(layers, window)

    def load(self) -> None:
        """At startup, before the WAL replay: every queue's record and counts (one small
        record each), read from LMDB."""
        store = self._layers.store
        for key, value in store.scan(QUEUE):
            self.queue(key[1:].decode()).record = queue_decoder.decode(value)
        for key, value in store.scan(COUNTS):
            self.queue(key[1:].decode()).counts = Counts.decode(value)

    def queue(self, name: str) -> QueueIndex:
        found = self.queues.get(name)
        if found is None:
            found = self.queues[name] = QueueIndex(name)
        return found

    def existing(self, name: str) -> QueueIndex | None:
        found = self.queues.get(name)
        return found if found is not None and found.record is not None else None

    def on_meta(self, job_id: str, old: JobMeta | None, new: JobMeta | None) -> None:
        gone = () if old is None else order_keys(job_id, old)
        kept = () if new is None else order_keys(job_id, new)
        layers = self._layers
        for key in gone:
            if key not in kept:
                layers.set(key, None)
        for key in kept:
            if key not in gone:
                layers.set(key, b"")
        if old is not None:
            self.queue(old.queue).note(old, -1)
        if new is not None:
            self.queue(new.queue).note(new, 1)

    def on_queue(self, name: str, record: QueueRecord | None) -> None:
        self.queue(name).record = record

    def flush_counts(self) -> None:
        """Write every queue's counts into the overlay (before a checkpoint freezes it, so
        LMDB's counts always match LMDB's jobs); forget deleted queues."""
        for name, q in list(self.queues.items()):
            gone = q.record is None and q.counts.empty
            self._layers.set(count_key(name), None if gone else q.counts.encode())
            if gone:
                del self.queues[name]

    def checkpointed(self) -> None:
        self._keys.reset()

    # -- reads -------------------------------------------------------------------

    def pop_ready(self, q: QueueIndex, count: int, now_ms: int) -> list[str]:
        """Up to ``count`` ids of jobs due at ``now_ms`` in service order (the caller
        changes their state before the key space changes again)."""
        picked: list[str] = []
        for priority in _PRIORITIES:
            if len(picked) >= count:
                break
            prefix = ready_prefix(q.name, priority)
            if self._keys.surely_empty(prefix):
                continue
            for key in self._keys.head(prefix):
                if ready_eta_ms(key, prefix) > now_ms:
                    break
                picked.append(ready_job_id(key, prefix))
                if len(picked) >= count:
                    break  # before the window reads ahead for a key nobody asked for
        return picked

    def has_ready(self, q: QueueIndex, now_ms: int) -> bool:
        return bool(self.pop_ready(q, 1, now_ms))

    def delayed_at(self, q: QueueIndex, now_ms: int) -> int:
        """Waiting jobs of ``q`` not due at ``now_ms``."""
        if now_ms >= q.promoted_ms:
            q.due += self._count_due(q, q.promoted_ms, now_ms)
            q.promoted_ms = now_ms
            return q.counts.delayed_keys - q.due
        return q.counts.delayed_keys - q.due + self._count_due(q, now_ms, q.promoted_ms)

    def _count_due(self, q: QueueIndex, after_ms: int, until_ms: int) -> int:
        prefix = delayed_prefix(q.name)
        found = 0
        for key in self._keys.keys(prefix, prefix + time_bytes(after_ms + 1)):
            if due_ms(key, prefix) > until_ms:
                break
            found += 1
        return found

    def next_eta_ms(self, q: QueueIndex, now_ms: int) -> int | None:
        prefix = delayed_prefix(q.name)
        first = next(self._keys.keys(prefix, prefix + time_bytes(now_ms + 1)), None)
        return None if first is None else due_ms(first, prefix)

    def job_ids(self, q: QueueIndex, after: str = "", state: JobState | None = None) -> Iterator[str]:
        """Ids of the jobs of ``q`` (inflight or dead ones only, when ``state`` says so)
        in id order, after ``after``."""
        prefix = _LISTED_BY_STATE.get(state, job_prefix)(q.name)
        start = prefix + after.encode() + b"\x00" if after else prefix
        return (key[len(prefix) :].decode() for key in self._keys.keys(prefix, start))

    def expired(self, now_ms: int, limit: int) -> list[str]:
        """Ids of inflight jobs whose lease expired, soonest first."""
        found: list[str] = []
        for key in itertools.islice(self._keys.head(LEASES), limit):
            expires_at_ms, job_id = lease_job_id(key)
            if expires_at_ms > now_ms:
                break
            found.append(job_id)
        return found
