"""Which route a PostgreSQL lease takes: a queue with no limit leases in one database call
(issue 20's one statement); a concurrency limit sends it to the transaction holding the
queue row, where the limit is counted (issue 18). The calls are counted on the real
database pool, around ``Database.run``, from the calling task only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from rivetq.ids import new_lease_id
from rivetq.models import LeaseResult, NewJob, QueueConfig
from rivetq.storage.postgres import PostgresStorage

T0 = 1_700_000_000_000
DAY_MS = 86_400_000


class _CountedRuns:
    """Counts the calls made by the task that creates it: the backend's notifier shares
    the pool, and its calls are not the lease's."""

    def __init__(self, run: Callable[..., Awaitable[Any]]) -> None:
        self._run = run
        self._task = asyncio.current_task()
        self.calls = 0

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if asyncio.current_task() is self._task:
            self.calls += 1
        return await self._run(*args, **kwargs)


@pytest.fixture
async def storage(fresh_database: str) -> AsyncIterator[PostgresStorage]:
    opened = PostgresStorage(fresh_database)
    await opened.open()
    yield opened
    await opened.close()


async def _fill(storage: PostgresStorage, queue: str, count: int) -> None:
    jobs = [
        NewJob(id=f"{queue}-{n}", payload=b"{}", priority=0, eta_ms=T0, max_retries=3, headers={"n": str(n)})
        for n in range(count)
    ]
    await storage.insert(queue, jobs, now_ms=T0, dedup_window_ms=DAY_MS)


async def _counted_lease(storage: PostgresStorage, queue: str, max_jobs: int) -> tuple[LeaseResult, int]:
    counted = _CountedRuns(storage._db.run)
    storage._db.run = counted  # type: ignore[method-assign]
    try:
        result = await storage.lease(
            queue, max_jobs=max_jobs, visibility_ms=30_000, now_ms=T0, new_lease_id=new_lease_id
        )
    finally:
        del storage._db.run
    return result, counted.calls


async def test_an_open_queue_leases_in_one_call_with_its_headers(storage: PostgresStorage) -> None:
    await _fill(storage, "open", 5)
    result, calls = await _counted_lease(storage, "open", 3)
    assert calls == 1
    assert [job.headers for job in result.jobs] == [{"n": "0"}, {"n": "1"}, {"n": "2"}]


async def test_a_concurrency_limited_queue_leases_under_its_row_lock(storage: PostgresStorage) -> None:
    await _fill(storage, "capped", 5)
    await storage.update_queue_config("capped", lambda config: QueueConfig(max_inflight=2), now_ms=T0)
    result, calls = await _counted_lease(storage, "capped", 4)
    assert calls == 3  # the open statement finds nothing, the limit is seen, the locked lease
    assert (len(result.jobs), result.concurrency_limited) == (2, True)
    result, _ = await _counted_lease(storage, "capped", 4)
    assert (result.jobs, result.concurrency_limited) == ([], True)
