"""In-memory indexes over the job metadata, rebuilt at startup by one scan.

Per queue: a ready heap (priority desc, eta, seq), a delayed heap (eta), inflight and
dead sets, all job ids in id order (for paged listings); one lease-expiry heap for all
queues. Entries are small tuples; heap
entries of jobs that changed are dropped when they surface (lazy deletion): an entry
is current only while ``waiting[id]`` / ``inflight[id]`` *is* that very tuple.
Payloads are never here (they stay in the KV store).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sortedcontainers import SortedList  # type: ignore[import-untyped]

from rivetq.models import JobState, StoredState
from rivetq.storage.local.codec import JobMeta, QueueRecord

__all__ = ["Index", "QueueIndex"]

_BEFORE_TIME = -(2**62)
# The lease heap drops an acked or extended lease only when its expiry comes round; it is
# rebuilt from the live leases once it has grown past twice their number plus this.
_LEASE_HEAP_SLACK = 4096
ReadyEntry = tuple[int, int, int, str]  # (-priority, eta, seq, id)
DelayedEntry = tuple[int, int, str, int]  # (eta, seq, id, -priority)
LeaseEntry = tuple[int, str, str]  # (expires at, id, queue)


@dataclass(slots=True)
class QueueIndex:
    record: QueueRecord | None = None  # None until the queue exists
    waiting: dict[str, ReadyEntry | DelayedEntry] = field(default_factory=dict)
    ready: list[ReadyEntry] = field(default_factory=list)
    delayed: list[DelayedEntry] = field(default_factory=list)
    delayed_count: int = 0
    promoted_ms: int = _BEFORE_TIME  # waiting jobs with eta <= this are in `ready`
    inflight: dict[str, LeaseEntry] = field(default_factory=dict)
    dead: set[str] = field(default_factory=set)
    ids: Any = field(default_factory=SortedList)  # SortedList[str]: every job id of the queue

    def promote(self, now_ms: int) -> None:
        """Move delayed entries due at ``now_ms`` to the ready heap."""
        if now_ms <= self.promoted_ms:
            return
        while self.delayed and self.delayed[0][0] <= now_ms:
            entry = heapq.heappop(self.delayed)
            eta_ms, seq, job_id, neg_priority = entry
            if self.waiting.get(job_id) is entry:
                ready = (neg_priority, eta_ms, seq, job_id)
                self.waiting[job_id] = ready
                self.delayed_count -= 1
                heapq.heappush(self.ready, ready)
        self.promoted_ms = now_ms

    def pop_ready(self, count: int, now_ms: int) -> list[str]:
        """Take up to ``count`` ready job ids in service order (the caller changes their
        state). Entries not yet due (only if time went back) are put back."""
        self.promote(now_ms)
        picked: list[str] = []
        not_due: list[ReadyEntry] = []
        while self.ready and len(picked) < count:
            entry = heapq.heappop(self.ready)
            if self.waiting.get(entry[3]) is not entry:
                continue
            if entry[1] > now_ms:
                not_due.append(entry)
            else:
                picked.append(entry[3])
        for entry in not_due:
            heapq.heappush(self.ready, entry)
        return picked

    def has_ready(self, now_ms: int) -> bool:
        self.promote(now_ms)
        while self.ready and self.waiting.get(self.ready[0][3]) is not self.ready[0]:
            heapq.heappop(self.ready)
        if not self.ready:
            return False
        return self.ready[0][1] <= now_ms or any(entry[1] <= now_ms for entry in self.ready)

    def delayed_at(self, now_ms: int) -> int:
        self.promote(now_ms)
        if now_ms < self.promoted_ms:
            return sum(1 for eta in self._waiting_etas() if eta > now_ms)
        return self.delayed_count

    def next_eta_ms(self, now_ms: int) -> int | None:
        self.promote(now_ms)
        if now_ms < self.promoted_ms:
            return min((eta for eta in self._waiting_etas() if eta > now_ms), default=None)
        while self.delayed and self.waiting.get(self.delayed[0][2]) is not self.delayed[0]:
            heapq.heappop(self.delayed)
        return self.delayed[0][0] if self.delayed else None

    def state_of(self, job_id: str, now_ms: int) -> JobState:
        entry = self.waiting.get(job_id)
        if entry is not None:
            eta_ms = entry[1] if isinstance(entry[3], str) else entry[0]
            return JobState.DELAYED if eta_ms > now_ms else JobState.READY
        return JobState.INFLIGHT if job_id in self.inflight else JobState.DEAD

    def job_ids(self, after: str = "") -> Iterator[str]:
        """Job ids in id order, starting after ``after``."""
        ids: Iterator[str] = self.ids.irange(minimum=after, inclusive=(False, True))
        return ids

    def _waiting_etas(self) -> Iterator[int]:
        for entry in self.waiting.values():
            yield entry[1] if isinstance(entry[3], str) else entry[0]

    def add(self, job_id: str, meta: JobMeta, leases: list[LeaseEntry]) -> None:
        if meta.state is StoredState.WAITING:
            # The clock has passed created_at_ms: promoting up to it here keeps a job due at
            # enqueue out of the delayed heap, so the first lease after a producer-only
            # burst does not have to move the whole burst at once.
            self.promote(meta.created_at_ms)
            if meta.eta_ms <= self.promoted_ms:
                ready = (-meta.priority, meta.eta_ms, meta.seq, job_id)
                self.waiting[job_id] = ready
                heapq.heappush(self.ready, ready)
            else:
                delayed = (meta.eta_ms, meta.seq, job_id, -meta.priority)
                self.waiting[job_id] = delayed
                self.delayed_count += 1
                heapq.heappush(self.delayed, delayed)
        elif meta.state is StoredState.INFLIGHT:
            lease = (meta.lease_expires_at_ms or 0, job_id, meta.queue)
            self.inflight[job_id] = lease
            heapq.heappush(leases, lease)
        else:
            self.dead.add(job_id)

    def drop(self, job_id: str) -> None:
        entry = self.waiting.pop(job_id, None)
        if entry is not None:
            if isinstance(entry[2], str):  # a delayed entry
                self.delayed_count -= 1
            return
        if self.inflight.pop(job_id, None) is None:
            self.dead.discard(job_id)


class Index:
    """All queues' indexes; changed only through ``on_meta`` / ``on_queue``."""

    def __init__(self) -> None:
        self.queues: dict[str, QueueIndex] = {}
        self.leases: list[LeaseEntry] = []
        self._compact_leases_at = _LEASE_HEAP_SLACK

    def queue(self, name: str) -> QueueIndex:
        found = self.queues.get(name)
        if found is None:
            found = self.queues[name] = QueueIndex()
        return found

    def existing(self, name: str) -> QueueIndex | None:
        found = self.queues.get(name)
        return found if found is not None and found.record is not None else None

    def on_meta(self, job_id: str, old: JobMeta | None, new: JobMeta | None) -> None:
        if old is not None:
            q = self.queue(old.queue)
            q.drop(job_id)
            if new is None or new.queue != old.queue:
                q.ids.discard(job_id)
        if new is not None:
            q = self.queue(new.queue)
            q.add(job_id, new, self.leases)
            if old is None or new.queue != old.queue:
                q.ids.add(job_id)
            if len(self.leases) > self._compact_leases_at:
                self._compact_leases()

    def on_queue(self, name: str, record: QueueRecord | None) -> None:
        q = self.queue(name)
        q.record = record
        if record is None and not q.ids:  # a deleted queue: its jobs went before its record
            del self.queues[name]

    def _is_live(self, lease: LeaseEntry) -> bool:
        q = self.queues.get(lease[2])
        return q is not None and q.inflight.get(lease[1]) is lease

    def _compact_leases(self) -> None:
        """Memory follows the leases held, not lease and extend traffic times visibility
        (200 acked leases/s at 12 h visibility kept ~8.6 M entries)."""
        self.leases = [lease for lease in self.leases if self._is_live(lease)]
        heapq.heapify(self.leases)
        self._compact_leases_at = 2 * len(self.leases) + _LEASE_HEAP_SLACK

    def expired(self, now_ms: int, limit: int) -> list[str]:
        """Ids of inflight jobs whose lease expired, soonest first."""
        found: list[LeaseEntry] = []
        while self.leases and self.leases[0][0] <= now_ms and len(found) < limit:
            entry = heapq.heappop(self.leases)
            if self._is_live(entry):
                found.append(entry)
        for entry in found:
            heapq.heappush(self.leases, entry)
        return [entry[1] for entry in found]

    def load(self, metas: Iterable[tuple[str, JobMeta]], queues: Iterable[tuple[str, QueueRecord]]) -> None:
        """Bulk build at startup: jobs due by the newest ``created_at_ms`` (a time the
        clock has passed) go straight to the ready heaps; every heap is built once."""
        for name, record in queues:
            self.on_queue(name, record)
        loaded = list(metas)
        cutoff = max((meta.created_at_ms for _, meta in loaded), default=_BEFORE_TIME)
        ids: dict[str, list[str]] = {}
        for job_id, meta in loaded:
            q = self.queue(meta.queue)
            q.promoted_ms = cutoff
            ids.setdefault(meta.queue, []).append(job_id)
            if meta.state is StoredState.WAITING:
                self._load_waiting(q, job_id, meta, cutoff)
            else:
                q.add(job_id, meta, self.leases)
        for name, q in self.queues.items():
            q.ids = SortedList(ids.get(name, ()))
            heapq.heapify(q.ready)
            heapq.heapify(q.delayed)
        self._compact_leases()

    @staticmethod
    def _load_waiting(q: QueueIndex, job_id: str, meta: JobMeta, cutoff: int) -> None:
        if meta.eta_ms <= cutoff:
            ready = (-meta.priority, meta.eta_ms, meta.seq, job_id)
            q.waiting[job_id] = ready
            q.ready.append(ready)
        else:
            delayed = (meta.eta_ms, meta.seq, job_id, -meta.priority)
            q.waiting[job_id] = delayed
            q.delayed_count += 1
            q.delayed.append(delayed)
