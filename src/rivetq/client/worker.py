"""``Worker``: leases jobs from one queue and runs a blocking handler on each, in threads.

Each job's lease is extended while its handler runs; success acks, an exception nacks
with its traceback, a lost lease is logged instead of acked. An ack rides on the next
lease call (the one that refills the slot) unless a lease call is already in flight.
``stop()`` (or SIGTERM) stops leasing, gives running handlers a grace period, then nacks
what is unfinished.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

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
from rivetq.client.client import Client
from rivetq.client.models import Job
from rivetq.errors import RivetQError

__all__ = ["Worker"]

_SETTLE_TIMEOUT_S = 30.0  # for acks/nacks already sent when the drain ends
_SIGNAL_CHECK_S = 0.1  # how soon the main thread runs a signal handler the kernel gave another thread


class Worker:
    """``Worker(client, "emails", handle, concurrency=4).run()`` blocks until ``stop()``
    (callable from any thread or a signal handler) and the drain finish. Keyword
    arguments are those of ``WorkerOptions``."""

    def __init__(self, client: Client, queue: str, handler: Callable[[Job], Any], **options: Any) -> None:
        self.client = client
        self.queue = queue
        self.handler = handler
        self.options = replace(WorkerOptions(), **options)
        self._book = LeaseBook(self.options.visibility_ms)
        self._changed = threading.Condition(threading.RLock())  # RLock: stop() may run in a signal handler
        self._stopping = threading.Event()
        self._finished = threading.Event()

    def stop(self) -> None:
        """Stop leasing and drain; returns at once (``run()`` returns when drained)."""
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()

    def run(self) -> None:
        with stop_on_signals(self.stop, self.options.handle_signals):
            heartbeat = threading.Thread(target=self._heartbeat, name=f"rivetq-heartbeat-{self.queue}", daemon=True)
            heartbeat.start()
            drain = True
            try:
                self._lease_until_stopped()
            except KeyboardInterrupt:
                drain = False  # a second signal before the drain began: quit now, as promised
                raise
            finally:
                self._stopping.set()
                if drain:
                    self._drain()
                self._finished.set()
                heartbeat.join()

    def _lease_until_stopped(self) -> None:
        while (free := self._wait_for_free_slots()) > 0:
            with self._changed:
                acks = self._book.take_acks()
            undelivered = acks
            try:
                began = time.monotonic()
                leased = self.client.send(lease_call(acks, self.queue, free, self.options))
                undelivered = []
                if came_back_early(acks, leased, time.monotonic() - began, self.options):
                    self._stopping.wait(self.options.idle_pause_s)  # acks meanwhile go alone
            except RivetQError as error:
                if not is_transient(error):
                    raise
                LOGGER.warning("lease from %s failed: %s; retrying", self.queue, error)
                self._stopping.wait(self.options.error_pause_s)  # acks meanwhile go alone
                continue
            finally:
                with self._changed:
                    self._book.lease_answered(undelivered)
            log_failed_acks(acks, leased.acks)
            self._finish(acks)
            for job in leased.jobs:
                self._start(job)

    def _wait_for(self, predicate: Callable[[], bool], timeout: float | None = None) -> None:
        """``self._changed.wait_for`` (lock held) in short slices. The kernel may hand a
        SIGTERM to a handler thread, and its Python handler then runs only when the main
        thread next runs bytecode: a main thread asleep on a lock would not see it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not predicate():
            left = _SIGNAL_CHECK_S if deadline is None else min(_SIGNAL_CHECK_S, deadline - time.monotonic())
            if left <= 0:
                return
            self._changed.wait(left)

    def _wait_for_free_slots(self) -> int:
        """Free handler slots, once there is at least one; 0 when stopping."""
        with self._changed:
            self._wait_for(lambda: self._stopping.is_set() or self._book.busy() < self.options.concurrency)
            return 0 if self._stopping.is_set() else self.options.concurrency - self._book.busy()

    def _start(self, job: Job) -> None:
        with self._changed:
            entry = self._book.add(job)
        threading.Thread(target=self._process, args=(entry,), name=f"rivetq-job-{job.id}", daemon=True).start()

    def _process(self, entry: Running) -> None:
        try:
            self.handler(entry.job)
        except BaseException as error:  # even SystemExit fails only its job, not the worker
            self._settle(entry, error)
        else:
            self._settle(entry, None)

    def _settle(self, entry: Running, error: BaseException | None) -> None:
        with self._changed:
            if not self._book.settle(entry):
                LOGGER.warning("job %s finished after the drain nacked it; result dropped", entry.job.id)
                return
            if (
                error is None
                and not entry.lost
                and not self._stopping.is_set()
                and self._book.ack_with_next_lease(entry)
            ):
                self._changed.notify_all()
                return
        try:
            self._report(entry, error)
        finally:
            self._finish([entry])

    def _finish(self, entries: list[Running]) -> None:
        with self._changed:
            for entry in entries:
                self._book.finish(entry)
            self._changed.notify_all()

    def _report(self, entry: Running, failure: BaseException | None) -> None:
        call = outcome_call(entry, failure)
        if call is None:
            return
        try:
            self.client.send(call)
        except RivetQError as error:
            log_outcome_failed(entry, failure, error)

    def _heartbeat(self) -> None:
        while not self._finished.wait(self._book.tick_s):
            with self._changed:
                due = self._book.due()
            for entry in due:
                self._extend(entry)

    def _extend(self, entry: Running) -> None:
        try:
            self.client.extend(entry.job.id, entry.lease_id, self.options.visibility_ms)
        except RivetQError as error:
            with self._changed:
                if not entry.needs_lease:
                    return  # settled meanwhile: the failure is expected
                entry.lost = is_gone(error)
            log_extend_failed(entry, error)
            return
        with self._changed:
            self._book.extended(entry)

    def _drain(self) -> None:
        grace = self.options.grace_period_s
        with self._changed:
            self._wait_for(lambda: self._book.unsettled() == 0, timeout=grace)
            abandoned = self._book.abandon_unsettled()
        for entry in abandoned:
            self._nack_abandoned(entry, drain_reason(grace))
        with self._changed:
            acks = self._book.take_acks()  # no lease call will carry them now
        for entry in acks:
            self._report(entry, None)
        self._finish(acks)
        with self._changed:
            self._wait_for(lambda: len(self._book) == 0, timeout=_SETTLE_TIMEOUT_S)

    def _nack_abandoned(self, entry: Running, reason: str) -> None:
        LOGGER.warning("job %s still running after the grace period: nacking it", entry.job.id)
        try:
            self.client.nack(entry.job.id, entry.lease_id, reason=reason, delay_ms=0)
        except RivetQError as error:
            LOGGER.error("could not nack job %s: %s", entry.job.id, error)
