"""Storage contract: a job's headers are stored with it and kept through every transition
and a reopen. Runs once per backend."""

from __future__ import annotations

from rivetq.models import JobState
from rivetq.storage.base import Storage
from tests.storage.contract_support import QUEUE, T0, insert, job_id, lease, new_job
from tests.storage.factories import BackendFactory

HEADERS = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "é": "ünïcode"}


async def test_headers_are_kept_by_insert_lease_retry_and_bury(storage: Storage) -> None:
    await insert(storage, new_job(1, headers=HEADERS), new_job(2))
    first, second = await lease(storage, max_jobs=2)
    assert (first.headers, second.headers) == (HEADERS, None)
    retried = await storage.retry(first.id, first.lease_id or "", eta_ms=T0, error="again", now_ms=T0)
    assert retried.headers == HEADERS
    [again] = await lease(storage, now_ms=T0 + 1)
    dead = await storage.bury(again.id, again.lease_id or "", error="fatal", now_ms=T0 + 1)
    assert dead.headers == HEADERS
    page = await storage.list_jobs(QUEUE, state=JobState.DEAD, limit=10, cursor=None, now_ms=T0 + 1)
    assert [job.headers for job in page.jobs] == [HEADERS]


async def test_headers_survive_a_reopen(storage_factory: BackendFactory, storage: Storage) -> None:
    await insert(storage, new_job(1, headers=HEADERS))
    reopened = await storage_factory.reopen(storage)
    if storage_factory.durable:
        assert (await reopened.get(job_id(1))).headers == HEADERS
