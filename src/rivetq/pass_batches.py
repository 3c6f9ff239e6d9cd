"""Calls made during one event-loop pass, joined into one.

A server with many clients sees several of them enqueue, lease or ack in the same pass.
Each of those calls on its own is a storage transaction with its own log record, index
work and share of an fsync; joined, they cost one transaction (on the embedded engine
a lease and ack of one job take less than half the CPU they take alone). So a call does
not go to the storage at once: it joins the pass's batch for its key, and at the end of
the pass the batch runs as one call in a task of its own (a caller that goes away
takes nobody's outcome with it).

A batch that fails as a whole runs again item by item, so each caller gets the outcome
its own call would have had and one caller's trouble is nobody else's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["PassBatches"]

K = TypeVar("K", bound=Hashable)
I = TypeVar("I")  # noqa: E741 - an item, as K is a key and R a result
R = TypeVar("R")


class PassBatches(Generic[K, I, R]):
    """``submit(key, item)`` → the item's result. ``run_batch(key, items)`` answers for
    several items (one result or error per item, in order); ``run_one(key, item)`` for
    one."""

    def __init__(
        self,
        run_batch: Callable[[K, list[I]], Awaitable[list[R | BaseException]]],
        run_one: Callable[[K, I], Awaitable[R]],
    ) -> None:
        self._run_batch = run_batch
        self._run_one = run_one
        self._open: dict[K, list[tuple[I, asyncio.Future[R]]]] = {}
        self._running: set[asyncio.Task[None]] = set()

    def submit(self, key: K, item: I) -> asyncio.Future[R]:
        loop = asyncio.get_running_loop()
        if not self._open:
            loop.call_soon(self._close_pass, loop)
        future: asyncio.Future[R] = loop.create_future()
        self._open.setdefault(key, []).append((item, future))
        return future

    def _close_pass(self, loop: asyncio.AbstractEventLoop) -> None:
        batches, self._open = self._open, {}
        for key, calls in batches.items():
            task = loop.create_task(self._run(key, calls))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, key: K, calls: list[tuple[I, asyncio.Future[R]]]) -> None:
        try:
            if len(calls) > 1:
                try:
                    outcomes = await self._run_batch(key, [item for item, _ in calls])
                except Exception:  # each call gets its own outcome below
                    pass
                else:
                    for (_, future), batched in zip(calls, outcomes, strict=True):
                        _settle(future, batched)
                    return
            for item, future in calls:
                try:
                    outcome: R | BaseException = await self._run_one(key, item)
                except Exception as error:  # handed to its caller
                    outcome = error
                _settle(future, outcome)
        finally:
            for _, future in calls:  # cancelled (the loop is closing): nobody waits forever
                future.cancel()


def _settle(future: asyncio.Future[R], outcome: R | BaseException) -> None:
    if future.done():  # its caller went away
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
