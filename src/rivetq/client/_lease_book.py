"""The jobs a worker is running, when each lease needs its next extension, who settles
each job (the handler's ack/nack, or the drain's nack), and which acks wait to ride on
the next lease call. Pure bookkeeping: time comes from an injected monotonic clock, and
the caller provides any locking."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rivetq.client.models import Job

__all__ = ["LeaseBook", "Running"]

_MIN_TICK_S = 0.01
_MAX_TICK_S = 1.0


@dataclass
class Running:
    """One leased job whose handler runs. ``lost``: the lease was found gone (the result
    must not be acked); ``settling``: its ack/nack is on the way; ``abandoned``: the drain
    gave up on it and nacked it."""

    job: Job
    lease_id: str
    extend_at: float
    lost: bool = False
    settling: bool = False
    abandoned: bool = False

    @property
    def needs_lease(self) -> bool:
        return not (self.lost or self.settling or self.abandoned)


class LeaseBook:
    """Extends a lease once ``fraction`` of its visibility has passed (default a third),
    so that two heartbeats can fail before the lease expires."""

    def __init__(
        self, visibility_ms: int, *, fraction: float = 1 / 3, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval_s = visibility_ms * fraction / 1000
        self.tick_s = min(_MAX_TICK_S, max(_MIN_TICK_S, self.interval_s / 4))
        self._clock = clock
        self._running: dict[str, Running] = {}
        self._acks_due: list[Running] = []  # settled, to be acked by the next lease call
        self._leasing = False  # a lease call is in flight: an ack then goes alone, not after it

    def __len__(self) -> int:
        return len(self._running)

    def busy(self) -> int:
        """Handler slots taken: running jobs, less those whose ack waits for the next lease."""
        return len(self._running) - len(self._acks_due)

    def add(self, job: Job) -> Running:
        if job.lease_id is None:
            raise ValueError(f"job {job.id} has no lease")
        entry = Running(job, job.lease_id, self._clock() + self.interval_s)
        self._running[job.id] = entry
        return entry

    def due(self) -> list[Running]:
        """Running jobs whose lease should be extended now."""
        now = self._clock()
        return [entry for entry in self._running.values() if entry.needs_lease and entry.extend_at <= now]

    def extended(self, entry: Running) -> None:
        entry.extend_at = self._clock() + self.interval_s

    def settle(self, entry: Running) -> bool:
        """Claim the job for its handler's ack/nack; False if the drain already nacked it."""
        if entry.abandoned:
            return False
        entry.settling = True
        return True

    def ack_with_next_lease(self, entry: Running) -> bool:
        """Queue a settled job's ack for the next lease call (its slot then counts as
        free); False while a lease call is in flight, when the ack must go alone."""
        if self._leasing:
            return False
        self._acks_due.append(entry)
        return True

    def take_acks(self) -> list[Running]:
        """The acks the lease call about to be sent carries; the call counts as in flight
        until ``lease_answered``. The caller finishes each entry once the call answered."""
        self._leasing = True
        acks, self._acks_due = self._acks_due, []
        return acks

    def lease_answered(self, undelivered: list[Running]) -> None:
        """The lease call is over; ``undelivered`` (its acks, if it failed) wait for the next."""
        self._leasing = False
        self._acks_due[:0] = undelivered

    def finish(self, entry: Running) -> None:
        self._running.pop(entry.job.id, None)

    def unsettled(self) -> int:
        return sum(1 for entry in self._running.values() if not entry.settling)

    def abandon_unsettled(self) -> list[Running]:
        """Give up on every job whose handler has not finished: the caller nacks them."""
        abandoned = [entry for entry in self._running.values() if not entry.settling]
        for entry in abandoned:
            entry.abandoned = True
            self.finish(entry)
        return abandoned
