"""``AsyncWorker``: the ``Worker`` of ``AsyncClient``. Async handlers run as tasks on the
event loop (a handler still running after the grace period is cancelled); a plain
function handler runs in a thread (``asyncio.to_thread``). As in ``Worker``, an ack rides on
the next lease call unless one is in flight."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from rivetq.client import _calls
from rivetq.client._lease_book import LeaseBook, Running
from rivetq.client._worker_base import (
    LOGGER,
    WorkerOptions,
    came_back_early,
    drain_reason,
    is_gone,
    is_transient,
    lease_call,
    log_extend_failed,
    log_failed_acks,
    log_outcome_failed,
    outcome_call,
    stop_on_signals,
)
from rivetq.client.client import AsyncClient
from rivetq.client.models import Job
from rivetq.errors import RivetQError

__all__ = ["AsyncWorker"]


class AsyncWorker:
    """``await AsyncWorker(client, "emails", handle, concurrency=10).run()``; ``stop()`` may
    be called from any thread. Keyword arguments are those of ``WorkerOptions``."""

    def __init__(self, client: AsyncClient, queue: str, handler: Callable[[Job], Any], **options: Any) -> None:
        self.client = client
        self.queue = queue
        self.handler = handler
        self.options = replace(WorkerOptions(), **options)
        self._book = LeaseBook(self.options.visibility_ms)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stop_requested = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed = asyncio.Event()

    def stop(self) -> None:
        """Stop leasing and drain; returns at once (``run()`` returns when drained)."""
        self._stop_requested = True
        self._loop_call(self._changed.set)

    async def run(self) -> None:
        """Lease and run jobs until ``stop()``, then drain. A second SIGTERM/SIGINT (or
        cancelling ``run``) quits at once: running handlers are cancelled without a nack,
        their leases expire on their own, and the signal surfaces as ``KeyboardInterrupt``."""
        self._loop = asyncio.get_running_loop()
        run_task = asyncio.current_task()
        assert run_task is not None
        quit_requested = False

        def quit_now() -> None:
            # A signal handler may interrupt the event loop mid-callback, so raising there
            # could leave a task half-stepped; the cancel runs as an ordinary loop callback.
            nonlocal quit_requested
            quit_requested = True
            self._loop_call(run_task.cancel)

        with stop_on_signals(self.stop, self.options.handle_signals, quit_now):
            try:
                await self._run_and_drain()
            except asyncio.CancelledError:
                for task in self._tasks.values():
                    task.cancel()
                if quit_requested:
                    raise KeyboardInterrupt from None
                raise

    async def _run_and_drain(self) -> None:
        heartbeat = asyncio.create_task(self._heartbeat(), name=f"rivetq-heartbeat-{self.queue}")
        drain = True
        try:
            await self._lease_until_stopped()
        except asyncio.CancelledError:
            drain = False
            raise
        finally:
            self._stop_requested = True
            try:
                if drain:
                    await self._drain()
            finally:
                heartbeat.cancel()
                await asyncio.gather(heartbeat, return_exceptions=True)

    def _loop_call(self, callback: Callable[[], Any]) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(callback)

    async def _lease_until_stopped(self) -> None:
        while (free := await self._wait_for_free_slots()) > 0:
            acks = self._book.take_acks()
            undelivered = acks
            try:
                began = time.monotonic()
                leased = await self.client.send(lease_call(acks, self.queue, free, self.options))
                undelivered = []
                if came_back_early(acks, leased, time.monotonic() - began, self.options):
                    await self._pause(self.options.idle_pause_s)  # acks meanwhile go alone
            except RivetQError as error:
                if not is_transient(error):
                    raise
                LOGGER.warning("lease from %s failed: %s; retrying", self.queue, error)
                await self._pause(self.options.error_pause_s)  # acks meanwhile go alone
                continue
            finally:
                self._book.lease_answered(undelivered)
            log_failed_acks(acks, leased.acks)
            self._finish(acks)
            for job in leased.jobs:
                entry = self._book.add(job)
                self._tasks[job.id] = asyncio.create_task(self._process(entry), name=f"rivetq-job-{job.id}")

    async def _wait_for_free_slots(self) -> int:
        while not self._stop_requested and self._book.busy() >= self.options.concurrency:
            self._changed.clear()
            await self._changed.wait()
        return 0 if self._stop_requested else self.options.concurrency - self._book.busy()

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake up early on ``stop()``."""
        self._changed.clear()
        if not self._stop_requested:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=seconds)

    async def _run_handler(self, job: Job) -> None:
        if inspect.iscoroutinefunction(self.handler):
            await self.handler(job)
        else:
            await asyncio.to_thread(self.handler, job)

    async def _process(self, entry: Running) -> None:
        try:
            await self._run_handler(entry.job)
        except asyncio.CancelledError as error:
            if self._being_cancelled():
                raise
            await self._settle(entry, error)
        except BaseException as error:  # even SystemExit fails only its job, not the worker
            await self._settle(entry, error)
        else:
            await self._settle(entry, None)

    @staticmethod
    def _being_cancelled() -> bool:
        """Whether this task is being cancelled (the drain, a quit), rather than its handler
        having raised ``CancelledError`` of its own."""
        task = asyncio.current_task()
        return task is not None and task.cancelling() > 0

    async def _settle(self, entry: Running, failure: BaseException | None) -> None:
        if not self._book.settle(entry):
            return
        if failure is None and not entry.lost and not self._stop_requested and self._book.ack_with_next_lease(entry):
            self._tasks.pop(entry.job.id, None)
            self._changed.set()
            return
        try:
            await self._report(entry, failure)
        finally:
            self._finish([entry])

    async def _report(self, entry: Running, failure: BaseException | None) -> None:
        call = outcome_call(entry, failure)
        if call is None:
            return
        try:
            await self.client.send(call)
        except RivetQError as error:
            log_outcome_failed(entry, failure, error)

    def _finish(self, entries: list[Running]) -> None:
        for entry in entries:
            self._book.finish(entry)
            self._tasks.pop(entry.job.id, None)
        self._changed.set()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._book.tick_s)
            due = self._book.due()
            if due:
                await asyncio.gather(*(self._extend(entry) for entry in due))

    async def _extend(self, entry: Running) -> None:
        try:
            await self.client.send(_calls.extend(entry.job.id, entry.lease_id, self.options.visibility_ms))
        except RivetQError as error:
            if entry.needs_lease:
                entry.lost = is_gone(error)
                log_extend_failed(entry, error)
            return
        self._book.extended(entry)

    async def _drain(self) -> None:
        grace = self.options.grace_period_s
        running = list(self._tasks.values())
        if running:
            await asyncio.wait(running, timeout=grace)
        abandoned = self._book.abandon_unsettled()
        cancelled = [task for entry in abandoned if (task := self._tasks.pop(entry.job.id, None)) is not None]
        for task in cancelled:
            task.cancel()
        await asyncio.gather(*(self._nack_abandoned(entry, drain_reason(grace)) for entry in abandoned))
        acks = self._book.take_acks()  # no lease call will carry them now
        await asyncio.gather(*(self._report(entry, None) for entry in acks))
        self._finish(acks)
        await asyncio.gather(*cancelled, *self._tasks.values(), return_exceptions=True)

    async def _nack_abandoned(self, entry: Running, reason: str) -> None:
        LOGGER.warning("job %s still running after the grace period: cancelled and nacked", entry.job.id)
        try:
            await self.client.send(_calls.nack(entry.job.id, entry.lease_id, reason=reason, delay_ms=0))
        except RivetQError as error:
            LOGGER.error("could not nack job %s: %s", entry.job.id, error)
