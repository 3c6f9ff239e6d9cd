"""The two backends' in-memory indexes: jobs due when they are enqueued go straight to
the ready heap, so the first lease after a producer-only burst moves nothing."""

from __future__ import annotations

import msgspec

from rivetq.models import Job, StoredState
from rivetq.storage.local.codec import JobMeta
from rivetq.storage.local.index import Index
from rivetq.storage.memory_index import QueueIndex as MemoryQueueIndex

T0 = 1_700_000_000_000


def test_local_index_puts_jobs_due_at_enqueue_in_the_ready_heap() -> None:
    index = Index()
    for n in range(100):
        now = T0 + n
        index.on_meta(f"j{n:03d}", None, JobMeta("q", 0, now, 3, 0, now, n + 1, StoredState.WAITING))
    later = JobMeta("q", 0, T0 + 60_000, 3, 0, T0 + 100, 101, StoredState.WAITING)
    index.on_meta("later", None, later)
    q = index.queue("q")
    assert len(q.ready) == 100
    assert [entry[2] for entry in q.delayed] == ["later"]
    assert q.pop_ready(1_000, T0 + 100) == [f"j{n:03d}" for n in range(100)]
    assert q.delayed_at(T0 + 100) == 1


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


def test_local_index_lease_heap_follows_the_leases_held_not_the_traffic() -> None:
    """An acked or extended lease stays in the heap until its expiry comes round; with long
    visibility the heap grew with every lease and extend (~256 bytes each) until then."""
    index = Index()
    twelve_hours = 43_200_000
    waiting = JobMeta("q", 0, T0, 3, 0, T0, 1, StoredState.WAITING)
    held = msgspec.structs.replace(waiting, state=StoredState.INFLIGHT, lease_id="l", lease_expires_at_ms=T0 + 1)
    index.on_meta("kept", None, held)
    for n in range(50_000):
        job_id = f"j{n}"
        index.on_meta(job_id, None, waiting)
        leased = msgspec.structs.replace(held, lease_expires_at_ms=T0 + twelve_hours)
        index.on_meta(job_id, waiting, leased)
        extended = msgspec.structs.replace(leased, lease_expires_at_ms=T0 + twelve_hours + 1)
        index.on_meta(job_id, leased, extended)
        index.on_meta(job_id, extended, None)  # acked
    assert len(index.leases) <= 3 * 4096
    assert index.expired(T0 + 1, 10) == ["kept"]
