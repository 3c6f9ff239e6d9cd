"""Which queues other nodes wait on, as far as this node has heard, so that a change
wakes other nodes only when one of them waits (no NOTIFY, so no commit, per enqueue
while nobody waits).

A node about to wait on a queue (its lease came back empty) says so on the waiting
channel, again every ``ANNOUNCE_EVERY_S`` while it keeps waiting; the others count it
as waiting for ``KEEP_S`` after, longer than any long poll that announcement covers.
A change made here before this node heard of a waiter (the announcement was still on
its way) is caught when it arrives: a queue changed here within ``KEEP_S`` is woken
then. A node that starts (or reconnects) asks the others to repeat their announcements."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable

from rivetq.wire import MAX_WAIT_MS

__all__ = ["ANNOUNCE_EVERY_S", "KEEP_S", "Interest"]

ANNOUNCE_EVERY_S = 5.0
KEEP_S = ANNOUNCE_EVERY_S + MAX_WAIT_MS / 1000 + 5.0


class Interest:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._waited_on_until: dict[str, float] = {}  # by other nodes
        self._changed_at: dict[str, float] = {}  # by this node
        self._announced_at: dict[str, float] = {}  # this node's own waits

    def changed(self, queue: str) -> bool:
        """Note a change of ``queue`` made here; whether another node waits on it."""
        now = self._clock()
        self._changed_at[queue] = now
        return self._waited_on_until.get(queue, -math.inf) > now

    def heard_waiting(self, queues: Iterable[str]) -> list[str]:
        """Another node waits on ``queues``; the ones changed here lately, which that node
        may have looked at before the change (they need a wake-up now)."""
        now = self._clock()
        self._waited_on_until = {q: until for q, until in self._waited_on_until.items() if until > now}
        recent: list[str] = []
        for queue in queues:
            self._waited_on_until[queue] = now + KEEP_S
            if now - self._changed_at.get(queue, -math.inf) <= KEEP_S:
                recent.append(queue)
        return recent

    def should_announce(self, queue: str) -> bool:
        """Whether this node, about to wait on ``queue``, must tell the others (again)."""
        return self._clock() - self._announced_at.get(queue, -math.inf) >= ANNOUNCE_EVERY_S

    def announced(self, queues: Iterable[str]) -> None:
        now = self._clock()
        self._announced_at = {q: at for q, at in self._announced_at.items() if now - at < KEEP_S}
        for queue in queues:
            self._announced_at[queue] = now

    def still_waiting(self) -> list[str]:
        """Queues this node announced within ``KEEP_S``: what it repeats to a newcomer."""
        now = self._clock()
        return [q for q, at in self._announced_at.items() if now - at < KEEP_S]
