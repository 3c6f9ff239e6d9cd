"""Long-poll waiters of the ``QueueManager``, per queue, served oldest first.

A waiter registers before its first lease attempt, so a wake-up that arrives while it
is asking the storage is never lost. ``notify`` wakes one waiter (the oldest not yet
woken); a waiter that leased a full batch passes the wake-up on, so a burst of jobs
reaches as many waiters as it can serve without waking every one of them. Each queue
has at most one timer, armed at the earliest instant a waiter found something to wait
for (a delayed job's eta, a rate-limit refill); when it fires it wakes the oldest waiter.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

__all__ = ["Waiter", "Waiters"]


class Waiter:
    """One long-poll on one queue."""

    def __init__(self, queue: str) -> None:
        self.queue = queue
        self._event = asyncio.Event()

    @property
    def woken(self) -> bool:
        return self._event.is_set()

    def wake(self) -> None:
        self._event.set()

    def consume(self) -> None:
        """Take the pending wake-up (if any) before asking the storage."""
        self._event.clear()

    async def wait(self, timeout_s: float) -> bool:
        """True when woken, False when ``timeout_s`` passed first."""
        try:
            async with asyncio.timeout(max(timeout_s, 0.0)):
                await self._event.wait()
        except TimeoutError:
            return self._event.is_set()
        return True


@dataclass
class _QueueWaiters:
    waiters: deque[Waiter] = field(default_factory=deque)
    timer: asyncio.TimerHandle | None = None
    timer_at_ms: int | None = None


class Waiters:
    """Every waiting long-poll, by queue."""

    def __init__(self) -> None:
        self._queues: dict[str, _QueueWaiters] = {}
        self.closed = False

    def join(self, queue: str) -> Waiter:
        waiter = Waiter(queue)
        self._queues.setdefault(queue, _QueueWaiters()).waiters.append(waiter)
        if self.closed:
            waiter.wake()
        return waiter

    def leave(self, waiter: Waiter) -> None:
        """Unregister; a wake-up the waiter did not use goes to the next one."""
        entry = self._queues.get(waiter.queue)
        if entry is None:
            return
        entry.waiters.remove(waiter)
        if not entry.waiters:
            self._cancel_timer(entry)
            del self._queues[waiter.queue]
        elif waiter.woken and not self.closed:
            self.notify(waiter.queue)

    def count(self, queue: str) -> int:
        entry = self._queues.get(queue)
        return 0 if entry is None else len(entry.waiters)

    def notify(self, queue: str) -> None:
        """Wake the oldest waiter of ``queue`` that is not already woken."""
        entry = self._queues.get(queue)
        if entry is None:
            return
        for waiter in entry.waiters:
            if not waiter.woken:
                waiter.wake()
                return

    def arm(self, queue: str, at_ms: int, now_ms: int) -> None:
        """Wake the oldest waiter of ``queue`` at ``at_ms`` (clock time), unless a timer
        already fires no later than that."""
        entry = self._queues.get(queue)
        if entry is None or (entry.timer_at_ms is not None and entry.timer_at_ms <= at_ms):
            return
        self._cancel_timer(entry)
        delay_s = max(at_ms - now_ms, 1) / 1000
        entry.timer = asyncio.get_running_loop().call_later(delay_s, self._fire, queue)
        entry.timer_at_ms = at_ms

    def close(self) -> None:
        """Wake every waiter for good (shutdown)."""
        self.closed = True
        for entry in self._queues.values():
            self._cancel_timer(entry)
            for waiter in entry.waiters:
                waiter.wake()

    def _fire(self, queue: str) -> None:
        entry = self._queues.get(queue)
        if entry is not None:
            entry.timer, entry.timer_at_ms = None, None
            self.notify(queue)

    @staticmethod
    def _cancel_timer(entry: _QueueWaiters) -> None:
        if entry.timer is not None:
            entry.timer.cancel()
        entry.timer, entry.timer_at_ms = None, None
