"""StreamLease: every job delivered once, never more than max_unacked unacked per stream,
slots freed by acks and nacks, rate limits respected, and a cancelled stream's jobs come
back when their leases expire."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from rivetq.server.grpc._pb import rivetq_pb2 as pb
from rivetq.server.grpc._pb import rivetq_pb2_grpc as pb_grpc
from tests.e2e.server import RunningServer, start_server

Stub = Any
DEADLINE_S = 10.0
HELD_PAST_THE_FIRST_EXPIRY_S = 2.5


def _queue() -> str:
    return f"s-{uuid.uuid4().hex[:12]}"


async def _next_jobs(call: Any) -> list[pb.Job]:
    message = await asyncio.wait_for(call.read(), DEADLINE_S)
    assert message is not grpc.aio.EOF
    return list(message.jobs)


async def _produce(stub: Stub, queue: str, count: int, tag: str) -> list[str]:
    ids = []
    for n in range(count):
        ids.append((await stub.Enqueue(pb.EnqueueRequest(queue=queue, payload=f'"{tag}-{n}"'.encode()))).job_id)
        await asyncio.sleep(0)
    return ids


async def _work_then_ack(stub: Stub, job: pb.Job, unacked: set[str], turns: int) -> None:
    for _ in range(turns):  # the "work": a few turns of the event loop
        await asyncio.sleep(0)
    unacked.discard(job.id)  # before the ack is sent: the server frees the slot only after it
    await stub.Ack(pb.AckRequest(job_id=job.id, lease_id=job.lease_id))


async def _consume(stub: Stub, queue: str, max_unacked: int, delivered: list[str], total: int) -> None:
    """Works on each job a while, then acks it; checks the cap on every message."""
    call = stub.StreamLease(pb.StreamLeaseRequest(queue=queue, max_unacked=max_unacked, visibility_ms=60_000))
    unacked: set[str] = set()
    work: list[asyncio.Task[None]] = []
    try:
        while len(delivered) < total:
            jobs = await _next_jobs(call)
            unacked.update(job.id for job in jobs)
            assert len(unacked) <= max_unacked
            delivered.extend(job.id for job in jobs)
            turns = len(delivered) % 7 * 3
            work.extend(asyncio.create_task(_work_then_ack(stub, job, unacked, turns)) for job in jobs)
    finally:
        call.cancel()
        await asyncio.gather(*work)


async def test_stream_lease_delivers_each_job_once_under_concurrent_producers(stub: Stub) -> None:
    queue = _queue()
    delivered: list[str] = []
    total = 4 * 50
    consumers = [asyncio.create_task(_consume(stub, queue, cap, delivered, total)) for cap in (1, 3, 7)]
    produced = await asyncio.gather(*(_produce(stub, queue, 50, f"p{n}") for n in range(4)))
    done, pending = await asyncio.wait(consumers, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        task.result()
    assert sorted(delivered) == sorted(job_id for ids in produced for job_id in ids)
    stats = await stub.Stats(pb.StatsRequest(queue=queue))
    assert (stats.ready, stats.inflight, stats.acked_total) == (0, 0, total)


async def test_stream_lease_holds_back_until_an_ack_or_nack_frees_a_slot(stub: Stub) -> None:
    queue = _queue()
    await stub.EnqueueBatch(pb.EnqueueBatchRequest(queue=queue, jobs=[pb.EnqueueRequest(payload=b"1")] * 3))
    call = stub.StreamLease(pb.StreamLeaseRequest(queue=queue, max_unacked=1, visibility_ms=60_000))
    try:
        (first,) = await _next_jobs(call)
        await stub.Ack(pb.AckRequest(job_id=first.id, lease_id=first.lease_id))
        (second,) = await _next_jobs(call)  # well before first's 60 s lease would expire
        await stub.Nack(pb.NackRequest(job_id=second.id, lease_id=second.lease_id, delay_ms=600_000))
        (third,) = await _next_jobs(call)
        assert len({first.id, second.id, third.id}) == 3
        assert (await stub.Stats(pb.StatsRequest(queue=queue))).inflight == 1
    finally:
        call.cancel()


async def test_stream_slots_follow_acks_and_extends_sent_over_rest(stub: Stub, rivetqd: RunningServer) -> None:
    queue = _queue()
    await stub.EnqueueBatch(pb.EnqueueBatchRequest(queue=queue, jobs=[pb.EnqueueRequest(payload=b"1")] * 3))
    call = stub.StreamLease(pb.StreamLeaseRequest(queue=queue, max_unacked=1, visibility_ms=1_000))
    try:
        async with httpx.AsyncClient(base_url=rivetqd.url) as rest:
            (first,) = await _next_jobs(call)
            acked = await rest.post("/v1/ack", json={"job_id": first.id, "lease_id": first.lease_id})
            assert acked.status_code == 200
            (second,) = await _next_jobs(call)
            extend = {"job_id": second.id, "lease_id": second.lease_id, "visibility_ms": 60_000}
            assert (await rest.post("/v1/extend", json=extend)).status_code == 200
            read = asyncio.ensure_future(call.read())
            done, _ = await asyncio.wait({read}, timeout=HELD_PAST_THE_FIRST_EXPIRY_S)  # 1 s lease, extended
            assert not done, "a third job came while the second, extended over REST, was still leased"
            read.cancel()
        assert (await stub.Stats(pb.StatsRequest(queue=queue))).inflight == 1
    finally:
        call.cancel()


async def test_stream_lease_frees_the_slot_of_an_expired_lease(stub: Stub) -> None:
    queue = _queue()
    await stub.EnqueueBatch(pb.EnqueueBatchRequest(queue=queue, jobs=[pb.EnqueueRequest(payload=b"1")] * 2))
    call = stub.StreamLease(pb.StreamLeaseRequest(queue=queue, max_unacked=1, visibility_ms=300))
    try:
        (first,) = await _next_jobs(call)  # never acked
        (second,) = await _next_jobs(call)
        assert second.id != first.id
    finally:
        call.cancel()


async def test_stream_lease_respects_the_rate_limit(stub: Stub) -> None:
    queue = _queue()
    limit = pb.RateLimit(capacity=2, refill_rate=0.001)
    await stub.SetRateLimit(pb.SetRateLimitRequest(queue=queue, rate_limit=limit))
    await stub.EnqueueBatch(pb.EnqueueBatchRequest(queue=queue, jobs=[pb.EnqueueRequest(payload=b"1")] * 5))
    call = stub.StreamLease(pb.StreamLeaseRequest(queue=queue, max_unacked=10))
    try:
        assert len(await _next_jobs(call)) == 2
        assert (await stub.Stats(pb.StatsRequest(queue=queue))).leased_total == 2
        await stub.DeleteRateLimit(pb.DeleteRateLimitRequest(queue=queue))
        received = 0
        while received < 3:
            received += len(await _next_jobs(call))
        assert received == 3
    finally:
        call.cancel()


async def test_cancelled_stream_jobs_come_back_after_their_leases_expire(stub: Stub) -> None:
    queue = _queue()
    ids = (
        await stub.EnqueueBatch(pb.EnqueueBatchRequest(queue=queue, jobs=[pb.EnqueueRequest(payload=b"1")] * 3))
    ).job_ids
    call = stub.StreamLease(pb.StreamLeaseRequest(queue=queue, max_unacked=3, visibility_ms=300))
    held: list[pb.Job] = []
    while len(held) < 3:
        held.extend(await _next_jobs(call))
    call.cancel()
    assert (await stub.Lease(pb.LeaseRequest(queue=queue, max_jobs=3))).jobs == []  # still leased
    back: list[pb.Job] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while len(back) < 3 and loop.time() < deadline:
        back.extend((await stub.Lease(pb.LeaseRequest(queue=queue, max_jobs=3, wait_ms=1_000))).jobs)
    assert sorted(job.id for job in back) == sorted(ids)
    assert all(job.tries == 1 for job in back)  # the expired lease counted as a failed attempt


@pytest.mark.parametrize("max_unacked", [0, 1001])
async def test_stream_lease_rejects_a_bad_max_unacked(stub: Stub, max_unacked: int) -> None:
    call = stub.StreamLease(pb.StreamLeaseRequest(queue=_queue(), max_unacked=max_unacked))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call.read()
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_stream_lease_rejects_a_bad_queue_name(stub: Stub) -> None:
    call = stub.StreamLease(pb.StreamLeaseRequest(queue="no spaces", max_unacked=1))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call.read()
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_rivetqd_sigterm_ends_open_streams_and_exits_cleanly(tmp_path: Path) -> None:
    with start_server(tmp_path, "--storage-backend", "memory") as server:
        async with grpc.aio.insecure_channel(str(server.grpc_target)) as channel:
            stub = pb_grpc.RivetQStub(channel)
            await stub.Enqueue(pb.EnqueueRequest(queue="drain", payload=b"1"))
            call = stub.StreamLease(pb.StreamLeaseRequest(queue="drain", max_unacked=5))
            assert len(await _next_jobs(call)) == 1
            server.process.send_signal(signal.SIGTERM)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await asyncio.wait_for(call.read(), DEADLINE_S)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            assert ("rivetq-error-code", "storage_unavailable") in tuple(caught.value.trailing_metadata() or ())
        assert await asyncio.to_thread(server.process.wait, DEADLINE_S) == 0
