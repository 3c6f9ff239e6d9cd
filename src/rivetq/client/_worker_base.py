"""What ``Worker`` and ``AsyncWorker`` share: options, the lease call (carrying the acks
of jobs finished since the last one), the failure reason sent with a nack, which errors
a worker rides out, the log lines, and SIGTERM/SIGINT handling."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

from rivetq.client import _calls
from rivetq.client._base import Call
from rivetq.client._lease_book import Running
from rivetq.client.models import AckedLease, AckItemResult
from rivetq.errors import ConnectionFailed, JobNotFound, LeaseLost, RivetQError, StorageUnavailable, error_for_code
from rivetq.wire import MAX_WAIT_MS

__all__ = [
    "LOGGER",
    "STOP_SIGNALS",
    "WorkerOptions",
    "drain_reason",
    "failure_reason",
    "is_gone",
    "is_transient",
    "lease_call",
    "log_extend_failed",
    "log_failed_acks",
    "log_outcome_failed",
    "outcome_call",
    "stop_on_signals",
]

LOGGER = logging.getLogger("rivetq.worker")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_MAX_REASON_CHARS = 65_536  # the server's limit on a nack reason


@dataclass(frozen=True)
class WorkerOptions:
    """``concurrency`` handlers at most run at once; jobs are leased for ``visibility_ms``
    and their leases extended while the handler runs; a lease call long-polls for up to
    ``wait_ms``; on stop, running handlers get ``grace_period_s`` to finish before their
    jobs are nacked; ``handle_signals`` makes SIGTERM/SIGINT call ``stop()`` (main thread)."""

    concurrency: int = 1
    visibility_ms: int = 30_000
    wait_ms: int = 1_000  # also how long stop() may wait for a lease call in flight
    grace_period_s: float = 30.0
    handle_signals: bool = True
    error_pause_s: float = 1.0  # after a lease fails on a network or storage error
    idle_pause_s: float = 0.25  # after a lease comes back empty before its wait is over

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.visibility_ms < 1:
            raise ValueError("visibility_ms must be at least 1")
        if not 0 <= self.wait_ms <= MAX_WAIT_MS:
            raise ValueError(f"wait_ms must be within 0..{MAX_WAIT_MS}")
        if self.grace_period_s < 0:
            raise ValueError("grace_period_s must not be negative")
        if self.idle_pause_s < 0:
            raise ValueError("idle_pause_s must not be negative")


def failure_reason(error: BaseException) -> str:
    """The exception and its traceback, cut from the front to fit the server's limit
    (the innermost frames and the message are at the end)."""
    text = "".join(traceback.format_exception(error))
    if len(text) <= _MAX_REASON_CHARS:
        return text
    return "…" + text[-(_MAX_REASON_CHARS - 1) :]


def drain_reason(grace_period_s: float) -> str:
    return f"worker stopped: the handler did not finish within the {grace_period_s:g} s grace period"


def is_transient(error: RivetQError) -> bool:
    """Errors after which a worker waits and tries again instead of stopping."""
    return isinstance(error, ConnectionFailed | StorageUnavailable)


def is_gone(error: RivetQError) -> bool:
    """The lease is no longer ours: expired and maybe redelivered, or the job deleted."""
    return isinstance(error, LeaseLost | JobNotFound)


def lease_call(acks: list[Running], queue: str, max_jobs: int, options: WorkerOptions) -> Call[AckedLease]:
    """Lease up to ``max_jobs``, acking ``acks`` in the same call: a busy worker makes one
    round trip per job instead of two. A call carrying acks does not long-poll, so their
    results come back at once."""
    return _calls.ack_and_lease(
        [(entry.job.id, entry.lease_id) for entry in acks],
        queue,
        max_jobs=max_jobs,
        visibility_ms=options.visibility_ms,
        wait_ms=0 if acks else options.wait_ms,
    )


def came_back_early(acks: list[Running], leased: AckedLease, elapsed_s: float, options: WorkerOptions) -> bool:
    """An empty answer to a lease call that could have waited (it carried no acks) and did
    not wait it out: ``wait_ms`` is 0, or the queue is paused or rate limited. Leasing again
    at once would spin, so the worker pauses ``idle_pause_s``."""
    return not leased.jobs and not acks and (options.wait_ms == 0 or elapsed_s * 1000 < options.wait_ms)


def log_failed_acks(acks: list[Running], results: list[AckItemResult]) -> None:
    for entry, result in zip(acks, results, strict=True):
        if not result.ok:
            log_outcome_failed(entry, None, error_for_code(result.error_code or "", result.error or "ack failed"))


def outcome_call(entry: Running, failure: BaseException | None) -> Call[Any] | None:
    """The ack (no failure) or the nack carrying the traceback; None when the lease was
    lost, since the job will run again elsewhere."""
    if entry.lost:
        LOGGER.warning("job %s finished but its lease was lost; not acked", entry.job.id)
        return None
    if failure is None:
        return _calls.ack(entry.job.id, entry.lease_id)
    return _calls.nack(entry.job.id, entry.lease_id, reason=failure_reason(failure))


def log_outcome_failed(entry: Running, failure: BaseException | None, error: RivetQError) -> None:
    verb = "ack" if failure is None else "nack"
    if is_gone(error):
        _log_lease_lost(entry, verb, error)
    else:
        LOGGER.error("could not %s job %s: %s", verb, entry.job.id, error)


def log_extend_failed(entry: Running, error: RivetQError) -> None:
    if entry.lost:
        _log_lease_lost(entry, "extend", error)
    else:
        LOGGER.warning("extending the lease of job %s failed: %s; retrying", entry.job.id, error)


def _log_lease_lost(entry: Running, during: str, error: RivetQError) -> None:
    LOGGER.warning(
        "lease lost during %s of job %s (queue %s): %s; its result is not acked, the job will run again",
        during,
        entry.job.id,
        entry.job.queue,
        error,
        extra={"job_id": entry.job.id, "queue": entry.job.queue},
    )


@contextlib.contextmanager
def stop_on_signals(
    stop: Callable[[], None], enabled: bool, quit_now: Callable[[], None] | None = None
) -> Iterator[None]:
    """Route SIGTERM/SIGINT to ``stop`` while the block runs (only possible on the main
    thread; elsewhere this does nothing), then restore the previous handlers. A second
    signal means quit now, leases expire on their own: it calls ``quit_now`` or, without
    one, raises ``KeyboardInterrupt`` wherever the main thread is."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handle(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if received:
            LOGGER.warning("received %s again: quitting without draining", name)
            if quit_now is None:
                raise KeyboardInterrupt
            quit_now()
            return
        received.append(signum)
        LOGGER.info("received %s: draining (send it again to quit at once)", name)
        stop()

    previous = {sig: signal.signal(sig, handle) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
