"""Shared vocabulary of the storage contract tests (``test_contract*.py``)."""

from __future__ import annotations

from itertools import count

from rivetq.models import InsertResult, Job, NewJob
from rivetq.storage.base import Storage

__all__ = ["DAY_MS", "QUEUE", "T0", "insert", "job_id", "lease", "new_job", "next_lease_id"]

T0 = 1_700_000_000_000
DAY_MS = 86_400_000
QUEUE = "emails"
_lease_numbers = count(1)


def job_id(n: int) -> str:
    """A UUID-shaped id whose order follows ``n``."""
    return f"0190a000-0000-7000-8000-{n:012x}"


def new_job(
    n: int,
    *,
    priority: int = 5,
    eta_ms: int = T0,
    max_retries: int = 3,
    key: str | None = None,
    headers: dict[str, str] | None = None,
) -> NewJob:
    return NewJob(
        id=job_id(n),
        payload=b'{"n": %d}' % n,
        priority=priority,
        eta_ms=eta_ms,
        max_retries=max_retries,
        idempotency_key=key,
        headers=headers,
    )


async def insert(
    storage: Storage, *jobs: NewJob, queue: str = QUEUE, now_ms: int = T0, window_ms: int = DAY_MS
) -> list[InsertResult]:
    return await storage.insert(queue, jobs, now_ms=now_ms, dedup_window_ms=window_ms)


def next_lease_id() -> str:
    return f"lease-{next(_lease_numbers)}"


async def lease(
    storage: Storage, *, queue: str = QUEUE, max_jobs: int = 10, now_ms: int = T0, visibility_ms: int = 30_000
) -> list[Job]:
    result = await storage.lease(
        queue, max_jobs=max_jobs, visibility_ms=visibility_ms, now_ms=now_ms, new_lease_id=next_lease_id
    )
    return result.jobs
