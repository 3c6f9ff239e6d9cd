"""Calls that arrive together, joined into one.

A server with many clients sees several of them enqueue, lease or ack at once. Each of
those calls on its own is a storage transaction with its own log record, index work and
fsync share (and, from a front process, a message to the storage owner); joined, they
cost one, and the per-call cost falls steeply with the size of the batch. So a call does
not run at once: it joins the batch for its key. A batch starts at the end of the
event-loop pass in which its first call arrived, or, while the previous batch of its key
is still running (waiting for its fsync, or for the owner's answer), as soon as that one
is done: the calls that arrive meanwhile go together. An idle server runs a lone call
one pass later than it would have; a busy one runs bigger batches.

Each batch runs in a task of its own, so a caller that goes away takes nobody's outcome
with it. A batch that fails as a whole runs again item by item, so each caller gets the
outcome its own call would have had and one caller's trouble is nobody else's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

__all__ = ["PassBatches", "split_runs"]

K = TypeVar("K", bound=Hashable)
I = TypeVar("I")  # noqa: E741 - an item, as K is a key and R a result
R = TypeVar("R")
T = TypeVar("T")

_Call = tuple[I, "asyncio.Future[R]"]


class PassBatches(Generic[K, I, R]):
    """``submit(key, item)`` → the item's result. ``run_batch(key, items)`` answers for
    several items (one result or error per item, in order); ``run_one(key, item)`` for
    one. With ``weight``, a batch holds items weighing at most ``max_weight`` together
    (the size limit of the call it becomes); the rest go in another that starts with it."""

    def __init__(
        self,
        run_batch: Callable[[K, list[I]], Awaitable[Sequence[R | BaseException]]],
        run_one: Callable[[K, I], Awaitable[R]],
        *,
        weight: Callable[[I], int] = lambda _: 1,
        max_weight: int | None = None,
    ) -> None:
        self._run_batch = run_batch
        self._run_one = run_one
        self._weight = weight
        self._max_weight = max_weight
        self._waiting: dict[K, list[list[_Call[I, R]]]] = {}  # batches not started, by key
        self._weights: dict[K, int] = {}  # of each key's last waiting batch
        self._running: dict[K, int] = {}  # batches started and not done, by key
        self._due = False  # a start is scheduled for the end of this pass
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, key: K, item: I) -> asyncio.Future[R]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        batches = self._waiting.setdefault(key, [])
        weight = self._weights.get(key, 0) + self._weight(item)
        if not batches or (self._max_weight is not None and weight > self._max_weight and batches[-1]):
            batches.append([])
            weight = self._weight(item)
        batches[-1].append((item, future))
        self._weights[key] = weight
        if not self._due and key not in self._running:
            self._due = True
            loop.call_soon(self._start_idle, loop)
        return future

    def _start_idle(self, loop: asyncio.AbstractEventLoop) -> None:
        self._due = False
        for key in [key for key in self._waiting if key not in self._running]:
            self._start(loop, key)

    def _start(self, loop: asyncio.AbstractEventLoop, key: K) -> None:
        batches = self._waiting.pop(key)
        del self._weights[key]
        self._running[key] = len(batches)
        for calls in batches:
            task = loop.create_task(self._run(key, calls))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _done(self, key: K) -> None:
        self._running[key] -= 1
        if self._running[key] == 0:
            del self._running[key]
            if key in self._waiting:
                self._start(asyncio.get_running_loop(), key)

    async def _run(self, key: K, calls: list[_Call[I, R]]) -> None:
        try:
            await self._settle_all(key, calls)
        finally:
            for _, future in calls:  # cancelled (the loop is closing): nobody waits forever
                future.cancel()
            self._done(key)

    async def _settle_all(self, key: K, calls: list[_Call[I, R]]) -> None:
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


def split_runs(results: list[T], sizes: list[int]) -> list[list[T]]:
    """``results`` cut into consecutive runs of ``sizes`` (short or empty at the end when
    ``results`` run out): each joined call's share of a batch's answer."""
    runs: list[list[T]] = []
    start = 0
    for size in sizes:
        runs.append(results[start : start + size])
        start += size
    return runs


def _settle(future: asyncio.Future[R], outcome: R | BaseException) -> None:
    if future.done():  # its caller went away
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
