"""``AsyncWorker`` against a real rivetqd: async and plain handlers, failures to the DLQ,
heartbeats, and a drain that cancels and nacks handlers past the grace period."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

import rivetq
from rivetq import AsyncClient, AsyncWorker, Job
from tests.client.support import calls_to, new_queue
from tests.e2e.server import RunningServer

VISIBILITY_MS = 600
IDLE_CALLS_PER_S = 20  # 4 at a 0.25 s pause; without one, thousands
WAIT_TIMEOUT_S = 20.0


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(server.url) as sdk:
        yield sdk


@asynccontextmanager
async def running(worker: AsyncWorker) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(worker.run())
    try:
        yield task
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)


def _worker(client: AsyncClient, queue: str, handler: Callable[[Job], Any], **options: Any) -> AsyncWorker:
    options = {"visibility_ms": VISIBILITY_MS, "wait_ms": 100, "grace_period_s": 5.0, **options}
    return AsyncWorker(client, queue, handler, **options)


async def _until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + WAIT_TIMEOUT_S
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def _acked(client: AsyncClient, queue: str, count: int) -> bool:
    return (await client.stats(queue)).acked_total == count


async def test_async_worker_runs_async_handlers_with_bounded_concurrency(client: AsyncClient) -> None:
    queue = new_queue()
    await client.enqueue_batch(queue, [{"payload": n} for n in range(8)])
    active, peak, seen = [0], [0], []

    async def handle(job: Job) -> None:
        active[0] += 1
        peak[0] = max(peak[0], active[0])
        await asyncio.sleep(0.02)
        active[0] -= 1
        seen.append(job.payload)

    async with running(_worker(client, queue, handle, concurrency=3)):
        await _until(lambda: _acked(client, queue, 8), "8 acks")
    assert sorted(seen) == list(range(8))
    assert 1 <= peak[0] <= 3


async def test_a_busy_async_worker_acks_inside_its_next_lease_call(client: AsyncClient, server: RunningServer) -> None:
    queue = new_queue()
    await client.enqueue_batch(queue, [{"payload": n} for n in range(20)])
    acks_before = calls_to(server, "/v1/ack")

    async def handle(job: Job) -> None:
        await asyncio.sleep(0.005)

    async with running(_worker(client, queue, handle, concurrency=1)):
        await _until(lambda: _acked(client, queue, 20), "20 acks")
    assert calls_to(server, "/v1/ack") == acks_before  # one slot: no lease call is out when a job ends
    stats = await client.stats(queue)
    assert (stats.ready, stats.inflight, stats.acked_total, stats.nacked_total) == (0, 0, 20, 0)


async def test_async_worker_runs_plain_handlers_in_threads(client: AsyncClient) -> None:
    queue = new_queue()
    await client.enqueue(queue, "x")
    seen: list[Any] = []
    async with running(_worker(client, queue, lambda job: seen.append(job.payload))):
        await _until(lambda: _acked(client, queue, 1), "the ack")
    assert seen == ["x"]


async def test_an_idle_async_worker_that_does_not_long_poll_pauses_between_lease_calls(
    client: AsyncClient, server: RunningServer
) -> None:
    queue = new_queue()
    before = calls_to(server, "/v1/queues/{queue}/lease")
    async with running(_worker(client, queue, lambda job: None, wait_ms=0, idle_pause_s=0.25)):
        await asyncio.sleep(1.0)
    assert calls_to(server, "/v1/queues/{queue}/lease") - before <= IDLE_CALLS_PER_S


async def test_async_worker_nacks_failures_until_the_dlq(client: AsyncClient) -> None:
    queue = new_queue()
    await client.enqueue(queue, "bad", max_retries=1)

    async def handle(job: Job) -> None:
        raise RuntimeError(f"broken on try {job.tries}")

    async def dead() -> bool:
        return (await client.stats(queue)).dlq == 1

    async with running(_worker(client, queue, handle)):
        await _until(dead, "the job in the DLQ")
    [job] = (await client.list_dlq(queue)).jobs
    assert job.last_error is not None and "RuntimeError: broken on try 1" in job.last_error


@pytest.mark.parametrize("error", [SystemExit(3), asyncio.CancelledError()], ids=["SystemExit", "CancelledError"])
@pytest.mark.parametrize("kind", ["async", "plain"])
async def test_a_handler_raising_a_base_exception_fails_only_its_job(
    client: AsyncClient, error: BaseException, kind: str
) -> None:
    queue = new_queue()
    bad = await client.enqueue(queue, "bad", max_retries=0, priority=9)
    await client.enqueue(queue, "good", priority=1)

    def fail(job: Job) -> None:
        if job.payload == "bad":
            raise error

    async def fail_async(job: Job) -> None:
        fail(job)

    async def settled() -> bool:
        stats = await client.stats(queue)
        return (stats.acked_total, stats.dlq) == (1, 1)

    async with running(_worker(client, queue, fail_async if kind == "async" else fail, concurrency=1)):
        await _until(settled, "the good job acked and the bad one in the DLQ")
    dead = await client.get_job(bad)
    assert dead.last_error is not None and type(error).__name__ in dead.last_error


async def test_async_worker_extends_the_lease_of_a_slow_handler(client: AsyncClient) -> None:
    queue = new_queue()
    job_id = await client.enqueue(queue, "slow")
    release = asyncio.Event()
    leases: list[Job] = []

    async def handle(job: Job) -> None:
        leases.append(job)
        await release.wait()

    async with running(_worker(client, queue, handle)):
        await _until(lambda: asyncio.sleep(0, bool(leases)), "the handler to start")
        await asyncio.sleep(3 * VISIBILITY_MS / 1000)  # three visibility timeouts pass on the real server
        held = await client.get_job(job_id)
        assert (held.state, held.lease_id, held.tries) == ("inflight", leases[0].lease_id, 0)
        assert await client.lease(queue) == []
        release.set()
        await _until(lambda: _acked(client, queue, 1), "the ack")
    assert len(leases) == 1


async def test_async_worker_drain_cancels_and_nacks_past_the_grace_period(client: AsyncClient) -> None:
    queue = new_queue()
    job_id = await client.enqueue(queue, "stuck")
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def handle(job: Job) -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async with running(_worker(client, queue, handle, grace_period_s=0.2)):
        await asyncio.wait_for(started.wait(), WAIT_TIMEOUT_S)
    assert cancelled.is_set()
    job = await client.get_job(job_id)
    assert (job.state, job.tries) == ("ready", 1)
    assert job.last_error is not None and "grace period" in job.last_error


async def test_async_worker_stops_on_a_fatal_lease_error(server: RunningServer) -> None:
    async with AsyncClient(server.url) as client:
        worker = _worker(client, "not a queue name!", lambda job: None)
        with pytest.raises(rivetq.InvalidArgument):
            await asyncio.wait_for(worker.run(), 30)


async def test_async_worker_hands_the_job_headers_to_the_handler(client: AsyncClient) -> None:
    queue = new_queue()
    await client.enqueue(queue, 1, headers={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
    seen: list[dict[str, str]] = []

    async def handle(job: Job) -> None:
        seen.append(job.headers)

    async with running(_worker(client, queue, handle)):
        await _until(lambda: _acked(client, queue, 1), "1 ack")
    assert seen == [{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}]
