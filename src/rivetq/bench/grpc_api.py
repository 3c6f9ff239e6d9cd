"""The same calls over gRPC (grpc.aio, one channel): unary Enqueue/EnqueueBatch, Lease,
Ack/AckBatch, and StreamLease, where the server pushes jobs instead of being polled."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

import grpc
import orjson

from rivetq.bench.recorder import OpStats
from rivetq.bench.transport import PROBE_TIMEOUT_S, LeasedJob, enqueued_at_of_json
from rivetq.server.grpc._pb import rivetq_pb2 as pb
from rivetq.server.grpc._pb import rivetq_pb2_grpc as pb_grpc

__all__ = ["GrpcApi"]

Reply = TypeVar("Reply")


def _leased(jobs: Any) -> list[LeasedJob]:
    return [LeasedJob(job.id, job.lease_id, enqueued_at_of_json(job.payload)) for job in jobs]


class GrpcApi:
    """Times every call into an ``OpStats``; a failed call is recorded under its status
    code, never raised."""

    def __init__(self, target: str, *, token: str | None = None) -> None:
        self._target = target
        self._channel = grpc.aio.insecure_channel(target)
        self._stub = pb_grpc.RivetQStub(self._channel)  # type: ignore[no-untyped-call]
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()

    async def __aenter__(self) -> GrpcApi:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._channel.close(None)

    async def _call(self, method: Callable[..., Awaitable[Reply]], request: Any, stats: OpStats) -> Reply | None:
        started = time.perf_counter()
        try:
            reply = await method(request, metadata=self._metadata)
        except grpc.aio.AioRpcError as error:
            stats.record(time.perf_counter() - started, f"gRPC {error.code().name}")
            return None
        stats.record(time.perf_counter() - started)
        return reply

    async def enqueue(self, queue: str, payloads: list[dict[str, Any]], priority: int, stats: OpStats) -> int:
        jobs = [pb.EnqueueRequest(queue=queue, payload=orjson.dumps(p), priority=priority, max_retries=3)
                for p in payloads]  # fmt: skip
        if len(jobs) == 1:
            return 0 if await self._call(self._stub.Enqueue, jobs[0], stats) is None else 1
        reply = await self._call(self._stub.EnqueueBatch, pb.EnqueueBatchRequest(queue=queue, jobs=jobs), stats)
        return 0 if reply is None else len(reply.job_ids)

    async def lease(
        self, queue: str, *, max_jobs: int, visibility_ms: int, wait_ms: int, stats: OpStats
    ) -> list[LeasedJob]:
        request = pb.LeaseRequest(queue=queue, max_jobs=max_jobs, visibility_ms=visibility_ms, wait_ms=wait_ms)
        reply = await self._call(self._stub.Lease, request, stats)
        return [] if reply is None else _leased(reply.jobs)

    async def ack(self, jobs: list[LeasedJob], stats: OpStats) -> int:
        if len(jobs) == 1:
            request = pb.AckRequest(job_id=jobs[0].job_id, lease_id=jobs[0].lease_id)
            return 0 if await self._call(self._stub.Ack, request, stats) is None else 1
        items = [pb.AckItem(job_id=job.job_id, lease_id=job.lease_id) for job in jobs]
        reply = await self._call(self._stub.AckBatch, pb.AckBatchRequest(acks=items), stats)
        return 0 if reply is None else sum(1 for result in reply.results if result.ok)

    async def queue_counts(self, queue: str) -> dict[str, int] | None:
        try:
            stats = await self._stub.Stats(pb.StatsRequest(queue=queue), metadata=self._metadata)
        except grpc.aio.AioRpcError:
            return None
        return {"ready": stats.ready, "delayed": stats.delayed, "inflight": stats.inflight, "dlq": stats.dlq}

    async def unreachable(self) -> str | None:
        """None once the channel connects; a refused connection answers at once, a
        silent address after ``PROBE_TIMEOUT_S``."""
        try:
            await asyncio.wait_for(self._connected(), PROBE_TIMEOUT_S)
        except TimeoutError:
            return f"no RivetQ gRPC server answers at {self._target} (waited {PROBE_TIMEOUT_S:g} s)"
        except ConnectionError:
            return f"no RivetQ gRPC server answers at {self._target}: cannot connect"
        return None

    async def _connected(self) -> None:
        state = self._channel.get_state(try_to_connect=True)
        while state is not grpc.ChannelConnectivity.READY:
            if state is grpc.ChannelConnectivity.TRANSIENT_FAILURE:
                raise ConnectionError
            await self._channel.wait_for_state_change(state)
            state = self._channel.get_state(try_to_connect=True)

    async def stream_lease(
        self, queue: str, *, max_unacked: int, visibility_ms: int, stats: OpStats
    ) -> AsyncIterator[list[LeasedJob]]:
        """Each pushed message counts as one lease call, timed from the moment the
        previous message was handed on (or the stream opened) to its arrival; a stream
        that fails is recorded as a failed lease and ends the iteration."""
        request = pb.StreamLeaseRequest(queue=queue, max_unacked=max_unacked, visibility_ms=visibility_ms)
        call = self._stub.StreamLease(request, metadata=self._metadata)
        waiting_since = time.perf_counter()
        try:
            async for message in call:
                stats.record(time.perf_counter() - waiting_since)
                yield _leased(message.jobs)
                waiting_since = time.perf_counter()
        except grpc.aio.AioRpcError as error:
            stats.record(time.perf_counter() - waiting_since, f"gRPC {error.code().name}")
        finally:
            call.cancel()
