"""The read side of ``LocalStorage``: answers from the indexes and the key space, each
returned only once every write it may have seen is durable."""

from __future__ import annotations

import itertools

from rivetq.errors import JobNotFound, StorageCorrupt
from rivetq.models import Job, JobPage, JobState, QueueConfig, QueueStats
from rivetq.storage.local.core import Core
from rivetq.storage.local.queue_ops import stats_of

__all__ = ["Reads"]


class Reads:
    def __init__(self, core: Core) -> None:
        self._core = core

    async def get(self, job_id: str) -> Job:
        return await self._core.read(lambda: self._job(job_id))

    def _job(self, job_id: str) -> Job:
        job = self._core.job(job_id)
        if job is None:
            raise JobNotFound(f"job {job_id} not found")
        return job

    async def get_queue_config(self, queue: str) -> QueueConfig:
        def compute() -> QueueConfig:
            record = self._core.queue_record(queue)
            return QueueConfig() if record is None else record.config

        return await self._core.read(compute)

    async def stats(self, queue: str, *, now_ms: int) -> QueueStats | None:
        def compute() -> QueueStats | None:
            index = self._core.index
            q = index.existing(queue)
            return None if q is None else stats_of(index, q, now_ms)

        return await self._core.read(compute)

    async def list_queues(self, *, now_ms: int) -> list[QueueStats]:
        def compute() -> list[QueueStats]:
            index = self._core.index
            return [stats_of(index, q, now_ms) for _, q in sorted(index.queues.items()) if q.record is not None]

        return await self._core.read(compute)

    async def list_jobs(
        self, queue: str, *, state: JobState | None, limit: int, cursor: str | None, now_ms: int
    ) -> JobPage:
        def compute() -> JobPage:
            q = self._core.index.existing(queue)
            if q is None:
                return JobPage(jobs=[], next_cursor=None)
            core = self._core
            jobs = (core.job_with_meta(i, core.indexed_meta(i)) for i in core.index.job_ids(q, cursor or "", state))
            if state is not None:
                jobs = (job for job in jobs if job.state_at(now_ms) is state)
            page = list(itertools.islice(jobs, limit + 1))
            return JobPage(jobs=page[:limit], next_cursor=page[limit - 1].id if len(page) > limit else None)

        return await self._core.read(compute)

    async def expired_leases(self, *, now_ms: int, limit: int) -> list[Job]:
        def compute() -> list[Job]:
            return [job for job_id in self._core.index.expired(now_ms, limit) if (job := self._readable(job_id))]

        return await self._core.read(compute)

    def _readable(self, job_id: str) -> Job | None:
        """The job, or None when its records are damaged (the store logged which): one
        damaged job must not hold up the reaping of every other expired lease."""
        try:
            return self._job(job_id)
        except StorageCorrupt:
            return None

    async def next_eta_ms(self, queue: str, *, now_ms: int) -> int | None:
        def compute() -> int | None:
            index = self._core.index
            q = index.existing(queue)
            return None if q is None else index.next_eta_ms(q, now_ms)

        return await self._core.read(compute)
