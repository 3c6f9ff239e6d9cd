"""Shared vocabulary of the manager unit tests."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

import msgspec

from rivetq import wire
from rivetq.manager import QueueManager
from rivetq.models import Job

__all__ = ["QUEUE", "RecordingObserver", "job", "until_long_polls"]

QUEUE = "emails"


def job(
    payload: bytes = b'{"to": "a@example.com"}',
    *,
    priority: int = 5,
    delay_ms: int | None = None,
    run_at: str | None = None,
    max_retries: int = 3,
    idempotency_key: str | None = None,
    headers: dict[str, str] | None = None,
) -> wire.EnqueueRequest:
    return wire.EnqueueRequest(
        payload=msgspec.Raw(payload),
        priority=priority,
        delay_ms=delay_ms,
        run_at=run_at,
        max_retries=max_retries,
        idempotency_key=idempotency_key,
        headers=headers,
    )


class RecordingObserver:
    """An ``Observer`` that counts what it is told; ``changed`` is set at every call."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.changed = asyncio.Event()

    def _add(self, event: str, queue: str, count: int) -> None:
        self.counts[(event, queue)] += count
        self.changed.set()

    def jobs_enqueued(self, queue: str, count: int) -> None:
        self._add("enqueued", queue, count)

    def jobs_leased(self, queue: str, jobs: Sequence[Job], now_ms: int) -> None:
        self._add("leased", queue, len(jobs))

    def jobs_acked(self, queue: str, count: int) -> None:
        self._add("acked", queue, count)

    def jobs_nacked(self, queue: str, count: int) -> None:
        self._add("nacked", queue, count)

    def jobs_dead(self, queue: str, count: int) -> None:
        self._add("dead", queue, count)

    def leases_expired(self, queue: str, count: int) -> None:
        self._add("expired", queue, count)

    def rate_limited(self, queue: str) -> None:
        self._add("rate_limited", queue, 1)

    def queue_deleted(self, queue: str) -> None:
        self._add("deleted", queue, 1)

    def schedule_fired(self, schedule: str, runs: int, lag_ms: int) -> None:
        self._add("schedule_fired", schedule, runs)


async def until_long_polls(manager: QueueManager, count: int, queue: str = QUEUE) -> None:
    """Let the event loop run until ``count`` long-polls wait on ``queue``."""
    for _ in range(1000):
        if manager.long_polls(queue) == count:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{manager.long_polls(queue)} long-polls wait on {queue}, expected {count}")
