"""The memory backend's index: jobs due when they are enqueued go straight to the ready
heap, so the first lease after a producer-only burst moves nothing (the embedded
engine's indexes are in ``test_order_keys.py``)."""

from __future__ import annotations

from rivetq.models import Job, StoredState
from rivetq.storage.memory_index import QueueIndex as MemoryQueueIndex

T0 = 1_700_000_000_000


def _job(job_id: str, *, eta_ms: int, created_at_ms: int, seq: int) -> Job:
    return Job(
        id=job_id,
        queue="q",
        payload=b"{}",
        priority=0,
        eta_ms=eta_ms,
        max_retries=3,
        tries=0,
        created_at_ms=created_at_ms,
        seq=seq,
        state=StoredState.WAITING,
    )


def test_memory_index_puts_jobs_due_at_enqueue_in_the_ready_heap() -> None:
    q = MemoryQueueIndex({})
    for n in range(100):
        now = T0 + n
        q.put(_job(f"j{n:03d}", eta_ms=now, created_at_ms=now, seq=n + 1))
    q.put(_job("later", eta_ms=T0 + 60_000, created_at_ms=T0 + 100, seq=101))
    assert len(q._ready) == 100
    assert [entry[2] for entry in q._delayed] == ["later"]
    assert [job.id for job in q.pop_ready(1_000, T0 + 100)] == [f"j{n:03d}" for n in range(100)]
    assert q.delayed_count(T0 + 100) == 1
