"""The in-memory job indexes of one queue, for ``MemoryStorage``.

A ready heap ordered by service order (priority desc, eta, seq) and a delayed heap
ordered by eta, whose due entries move to the ready heap lazily, when a lease or a read
looks at the queue. Entries of jobs that changed or vanished are dropped when they
surface (lazy deletion), so every change is O(log n).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

from rivetq.models import Job, StoredState

__all__ = ["QueueIndex"]

_BEFORE_TIME = -(2**62)


class QueueIndex:
    """Jobs of one queue by state; ``jobs`` is the store's id -> job map, shared."""

    def __init__(self, jobs: dict[str, Job]) -> None:
        self._jobs = jobs
        self._ready: list[tuple[int, int, int, str]] = []  # (-priority, eta, seq, id)
        self._delayed: list[tuple[int, int, str]] = []  # (eta, seq, id)
        self._promoted_ms = _BEFORE_TIME  # delayed entries with eta <= this are in `_ready`
        self._delayed_ids: set[str] = set()
        self.waiting: set[str] = set()
        self.inflight: set[str] = set()
        self.dead: set[str] = set()

    def ids(self) -> Iterator[str]:
        yield from self.waiting
        yield from self.inflight
        yield from self.dead

    def put(self, job: Job) -> None:
        """Store ``job`` and index it by its state (it is in no index yet)."""
        self._jobs[job.id] = job
        self._set_of(job.state).add(job.id)
        if job.state is not StoredState.WAITING:
            return
        self._promote(job.created_at_ms)  # see rivetq.storage.local.index.QueueIndex.add
        if job.eta_ms <= self._promoted_ms:
            heapq.heappush(self._ready, (-job.priority, job.eta_ms, job.seq, job.id))
        else:
            heapq.heappush(self._delayed, (job.eta_ms, job.seq, job.id))
            self._delayed_ids.add(job.id)

    def remove(self, job: Job) -> None:
        """Forget ``job``; its heap entries become stale and are dropped when they surface."""
        del self._jobs[job.id]
        self._set_of(job.state).discard(job.id)
        self._delayed_ids.discard(job.id)

    def clear(self, states: tuple[StoredState, ...]) -> int:
        """Forget every job in ``states``; returns how many."""
        ids = [job_id for state in states for job_id in self._set_of(state)]
        for job_id in ids:
            self.remove(self._jobs[job_id])
        if not self.waiting:
            self._ready.clear()
            self._delayed.clear()
        return len(ids)

    def pop_ready(self, count: int, now_ms: int) -> list[Job]:
        """Take up to ``count`` jobs due at ``now_ms`` in service order, out of the index.
        Entries not due (only when ``now_ms`` is before an earlier promotion) stay."""
        self._promote(now_ms)
        picked: list[Job] = []
        not_due: list[tuple[int, int, int, str]] = []
        while self._ready and len(picked) < count:
            entry = heapq.heappop(self._ready)
            job = self._current(entry[3], entry[1])
            if job is None:
                continue
            if entry[1] > now_ms:
                not_due.append(entry)
            else:
                self.waiting.discard(job.id)
                picked.append(job)
        for entry in not_due:
            heapq.heappush(self._ready, entry)
        return picked

    def has_ready(self, now_ms: int) -> bool:
        self._promote(now_ms)
        while self._ready and self._current(self._ready[0][3], self._ready[0][1]) is None:
            heapq.heappop(self._ready)
        return any(entry[1] <= now_ms for entry in self._ready[:1]) or (
            now_ms < self._promoted_ms and any(self._jobs[i].eta_ms <= now_ms for i in self.waiting)
        )

    def delayed_count(self, now_ms: int) -> int:
        self._promote(now_ms)
        if now_ms < self._promoted_ms:
            return sum(1 for eta in self._waiting_etas() if eta > now_ms)
        return len(self._delayed_ids)

    def next_eta_ms(self, now_ms: int) -> int | None:
        self._promote(now_ms)
        if now_ms < self._promoted_ms:
            return min((eta for eta in self._waiting_etas() if eta > now_ms), default=None)
        while self._delayed and self._current(self._delayed[0][2], self._delayed[0][0]) is None:
            heapq.heappop(self._delayed)
        return self._delayed[0][0] if self._delayed else None

    def _set_of(self, state: StoredState) -> set[str]:
        if state is StoredState.WAITING:
            return self.waiting
        return self.inflight if state is StoredState.INFLIGHT else self.dead

    def _current(self, job_id: str, eta_ms: int) -> Job | None:
        """The job a heap entry names, if the entry is still current."""
        job = self._jobs.get(job_id)
        if job is None or job.state is not StoredState.WAITING or job.eta_ms != eta_ms:
            return None
        return job

    def _waiting_etas(self) -> Iterator[int]:
        return (self._jobs[job_id].eta_ms for job_id in self.waiting)

    def _promote(self, now_ms: int) -> None:
        """Move delayed entries that are due at ``now_ms`` to the ready heap."""
        if now_ms <= self._promoted_ms:
            return
        while self._delayed and self._delayed[0][0] <= now_ms:
            eta_ms, seq, job_id = heapq.heappop(self._delayed)
            job = self._current(job_id, eta_ms)
            if job is not None:
                self._delayed_ids.discard(job_id)
                heapq.heappush(self._ready, (-job.priority, eta_ms, seq, job_id))
        self._promoted_ms = now_ms
