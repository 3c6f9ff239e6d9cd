"""A front's ``ManagerProxy`` joins the single-job calls made together into one call to the
storage owner (a real ``OwnerServer`` on a Unix socket here), and hands each caller
exactly what its own call would have returned."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from rivetq import wire
from rivetq.clock import SystemClock
from rivetq.errors import InvalidArgument, JobNotFound, LeaseLost
from rivetq.manager import ManagerOptions, QueueManager
from rivetq.models import AckResult, InsertResult, Job, RateLimit
from rivetq.server.procs.owner import OwnerServer
from rivetq.server.procs.proxy import ManagerProxy
from rivetq.storage.memory import MemoryStorage
from tests.manager.support import QUEUE, RecordingObserver, job

MAX_PAYLOAD = 1024


class CountingManager(QueueManager):
    """Counts the calls that reach the owner's manager."""

    def __init__(self, storage: MemoryStorage) -> None:
        self.observed = RecordingObserver()
        super().__init__(
            storage,
            clock=SystemClock(),
            options=ManagerOptions(max_payload_bytes=MAX_PAYLOAD),
            observer=self.observed,
        )
        self.calls: Counter[str] = Counter()

    async def enqueue(self, queue: str, request: wire.EnqueueRequest) -> InsertResult:
        self.calls["enqueue"] += 1
        return await super().enqueue(queue, request)

    async def enqueue_batch(self, queue: str, requests: Sequence[wire.EnqueueRequest]) -> list[InsertResult]:
        self.calls["enqueue_batch"] += 1
        return await super().enqueue_batch(queue, requests)

    async def lease(self, queue: str, *, max_jobs: int = 1, visibility_ms: int = 30_000, wait_ms: int = 0) -> list[Job]:
        self.calls["lease"] += 1
        return await super().lease(queue, max_jobs=max_jobs, visibility_ms=visibility_ms, wait_ms=wait_ms)

    async def lease_each(
        self, queue: str, max_jobs_each: Sequence[int], *, visibility_ms: int = 30_000
    ) -> list[list[Job]]:
        self.calls["lease_each"] += 1
        return await super().lease_each(queue, max_jobs_each, visibility_ms=visibility_ms)

    async def ack_batch(self, acks: Sequence[tuple[str, str]]) -> list[AckResult]:
        self.calls["ack_batch"] += 1
        return await super().ack_batch(acks)


@pytest.fixture
async def owner(tmp_path: Path) -> AsyncIterator[tuple[CountingManager, ManagerProxy]]:
    storage = MemoryStorage()
    manager = CountingManager(storage)
    await manager.start()
    server = OwnerServer(manager, storage)
    socket_path = tmp_path / "owner.sock"
    await server.start(socket_path)
    proxy = ManagerProxy(max_payload_bytes=MAX_PAYLOAD)
    await proxy.connect(socket_path, on_lost=lambda: None)
    try:
        yield manager, proxy
    finally:
        proxy.close()
        await server.wait_fronts_gone(5)
        await manager.stop()


async def _outcomes(*calls: Any) -> list[Any]:
    return list(await asyncio.gather(*calls, return_exceptions=True))


async def test_enqueues_made_together_reach_the_owner_as_one_batch(
    owner: tuple[CountingManager, ManagerProxy],
) -> None:
    manager, proxy = owner
    requests = [job(b"1", idempotency_key="k"), job(b"2"), job(b"3", idempotency_key="k")]
    results = await asyncio.gather(*(proxy.enqueue(QUEUE, request) for request in requests))
    assert manager.calls == Counter(enqueue_batch=1)
    assert [result.duplicate for result in results] == [False, False, True]
    assert results[2].job_id == results[0].job_id


async def test_leases_made_together_are_one_call_and_a_bad_max_jobs_fails_alone(
    owner: tuple[CountingManager, ManagerProxy],
) -> None:
    manager, proxy = owner
    await proxy.enqueue_batch(QUEUE, [job(str(n).encode()) for n in range(4)])
    manager.calls.clear()
    shares = await _outcomes(*(proxy.lease(QUEUE, max_jobs=n, visibility_ms=60_000) for n in (1, 2, 5)))
    assert manager.calls == Counter(lease_each=1, lease=3)  # one call to the owner, each lease its own there
    assert [len(share) for share in shares] == [1, 2, 1]
    manager.calls.clear()
    outcomes = await _outcomes(proxy.lease(QUEUE, max_jobs=-1), proxy.lease(QUEUE, max_jobs=2))
    assert isinstance(outcomes[0], InvalidArgument) and outcomes[0].field == "max_jobs"
    assert outcomes[1] == []


async def test_each_joined_lease_a_rate_limit_refuses_is_counted(owner: tuple[CountingManager, ManagerProxy]) -> None:
    manager, proxy = owner
    await proxy.enqueue_batch(QUEUE, [job(str(n).encode()) for n in range(6)])
    await proxy.set_rate_limit(QUEUE, RateLimit(capacity=2, refill_rate=1e-9))
    shares = await asyncio.gather(*(proxy.lease(QUEUE) for _ in range(5)))
    assert manager.calls["lease_each"] == 1
    assert sorted(len(share) for share in shares) == [0, 0, 0, 1, 1]
    assert manager.observed.counts[("rate_limited", QUEUE)] == 3  # as one process counts them


async def test_acks_made_together_are_one_batch_and_fail_only_where_a_single_ack_would(
    owner: tuple[CountingManager, ManagerProxy],
) -> None:
    manager, proxy = owner
    await proxy.enqueue_batch(QUEUE, [job(str(n).encode()) for n in range(2)])
    good, stale = await proxy.lease(QUEUE, max_jobs=2, visibility_ms=60_000)
    manager.calls.clear()
    outcomes = await _outcomes(
        proxy.ack(good.id, good.lease_id or ""), proxy.ack(stale.id, "L-other"), proxy.ack("j-gone", "L-any")
    )
    assert manager.calls == Counter(ack_batch=1)
    assert outcomes[0] is None
    assert isinstance(outcomes[1], LeaseLost) and str(outcomes[1]) == f"job {stale.id} is not leased with lease L-other"
    assert isinstance(outcomes[2], JobNotFound) and str(outcomes[2]) == "job j-gone not found"
