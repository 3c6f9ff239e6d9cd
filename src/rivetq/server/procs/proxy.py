"""A front's stand-in for the ``QueueManager``: every ``QueueService`` call goes to the
storage owner over its Unix socket. Calls made in one event-loop pass go out in one
write; replies come back by call id, in any order. Single-job enqueues, leases that do
not wait and acks made in one pass go as one batch call (``PassBatches``), so the owner
decodes, runs and answers one call for all of them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from rivetq import wire
from rivetq.clock import Clock, SystemClock
from rivetq.errors import StorageUnavailable, error_for_code
from rivetq.manager_options import LeaseListener
from rivetq.manager_schedules import check_schedule
from rivetq.manager_validation import check_insert
from rivetq.models import AckResult, InsertResult, Job, Schedule
from rivetq.pass_batches import PassBatches
from rivetq.server.procs.calls import CALLS, CALLS_BY_NAME, Call
from rivetq.server.procs.frames import EVENT, OK, FramedProtocol, frame
from rivetq.server.procs.owner import SUBSCRIBE, UNSUBSCRIBE

__all__ = ["ManagerProxy", "OwnerLink"]

_OWNER_GONE = "the storage owner process is not answering"
_decode_error = msgspec.msgpack.Decoder(tuple[str, str, str | None]).decode
_decode_event = msgspec.msgpack.Decoder(list[str | int]).decode


class OwnerLink(FramedProtocol):
    """The connection to the owner: pending calls by id, lease events to ``on_event``."""

    def __init__(self, on_event: Callable[[list[Any]], None], on_lost: Callable[[], None]) -> None:
        super().__init__()
        self._on_event = on_event
        self._on_lost = on_lost
        self._pending: dict[int, asyncio.Future[bytes]] = {}
        self._next_id = 0

    @classmethod
    async def connect(cls, path: Path, on_event: Callable[[list[Any]], None], on_lost: Callable[[], None]) -> OwnerLink:
        loop = asyncio.get_running_loop()
        _, link = await loop.create_unix_connection(lambda: cls(on_event, on_lost), str(path))
        return link

    def connection_lost(self, error: Exception | None) -> None:
        self.transport = None
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(StorageUnavailable(_OWNER_GONE))
        self._on_lost()

    def frame_received(self, call_id: int, tag: int, body: bytes) -> None:
        if tag == EVENT:
            self._on_event(_decode_event(body))
            return
        future = self._pending.pop(call_id, None)
        if future is None or future.done():  # its caller went away
            return
        if tag == OK:
            future.set_result(body)
        else:
            code, message, field = _decode_error(body)
            error = error_for_code(code, message)
            error.field = field
            future.set_exception(error)

    def request(self, tag: int, body: bytes) -> asyncio.Future[bytes]:
        future = self._loop.create_future()
        if self.transport is None:
            future.set_exception(StorageUnavailable(_OWNER_GONE))
            return future
        self._next_id = call_id = (self._next_id + 1) & 0xFFFFFFFF
        self._pending[call_id] = future
        self.send(frame(call_id, tag, body))
        return future

    def subscribe(self, wanted: bool) -> None:
        self.send(frame(0, SUBSCRIBE if wanted else UNSUBSCRIBE, b""))

    def close(self) -> None:
        """Hang up (after sending what is queued); not a loss of the owner."""
        self._on_lost = lambda: None
        if self.transport is not None:
            self.flush()
            self.transport.close()


def _remote(call: Call) -> Callable[..., Any]:
    encode = msgspec.json.Encoder().encode
    params, index, decode = call.params, call.index, call.result_decoder.decode

    async def method(self: ManagerProxy, *args: Any, **kwargs: Any) -> Any:
        return decode(await self.request(index, encode(params(*args, **kwargs))))

    method.__name__ = call.name
    return method


class ManagerProxy:
    """Implements ``QueueService`` and ``StorageView`` (methods added below from the call
    table). Enqueues and schedules are validated here first, so a payload that is not JSON
    (possible over gRPC) gets the manager's own error and never breaks a frame."""

    def __init__(self, *, max_payload_bytes: int, clock: Clock | None = None) -> None:
        self.link: OwnerLink | None = None  # set by connect()
        self._max_payload_bytes = max_payload_bytes
        self._clock = clock or SystemClock()
        self._listeners: list[LeaseListener] = []
        self._enqueues: PassBatches[str, wire.EnqueueRequest, InsertResult] = PassBatches(
            self._enqueue_all, self._enqueue_one, max_weight=wire.MAX_BATCH
        )
        self._leases: PassBatches[tuple[str, int], int, list[Job]] = PassBatches(
            self._lease_all, self._lease_one, weight=lambda max_jobs: max_jobs, max_weight=wire.MAX_BATCH
        )
        self._acks: PassBatches[None, tuple[str, str], None] = PassBatches(
            self._ack_all, self._ack_one, max_weight=wire.MAX_BATCH
        )

    async def connect(self, path: Path, on_lost: Callable[[], None]) -> None:
        self.link = await OwnerLink.connect(path, self._on_event, on_lost)
        if self._listeners:
            self.link.subscribe(True)

    def close(self) -> None:
        if self.link is not None:
            self.link.close()

    def request(self, tag: int, body: bytes) -> asyncio.Future[bytes]:
        if self.link is None:
            raise StorageUnavailable(_OWNER_GONE)
        return self.link.request(tag, body)

    def now_ms(self) -> int:
        return self._clock.now_ms()

    def add_lease_listener(self, listener: LeaseListener) -> None:
        """Lease events come from the owner while anyone here listens."""
        self._listeners.append(listener)
        if len(self._listeners) == 1 and self.link is not None:
            self.link.subscribe(True)

    def remove_lease_listener(self, listener: LeaseListener) -> None:
        self._listeners.remove(listener)
        if not self._listeners and self.link is not None:
            self.link.subscribe(False)

    async def enqueue(self, queue: str, request: wire.EnqueueRequest) -> InsertResult:
        self._check(queue, [request], None)
        return await self._enqueues.submit(queue, request)

    async def _enqueue_one(self, queue: str, request: wire.EnqueueRequest) -> InsertResult:
        result: InsertResult = await _ENQUEUE(self, queue, request)
        return result

    async def _enqueue_all(self, queue: str, requests: list[wire.EnqueueRequest]) -> list[InsertResult]:
        results: list[InsertResult] = await _ENQUEUE_BATCH(self, queue, requests)
        return results

    async def lease(self, queue: str, *, max_jobs: int = 1, visibility_ms: int = 30_000, wait_ms: int = 0) -> list[Job]:
        if wait_ms or not 1 <= max_jobs <= wire.MAX_BATCH:  # a long-poll waits, a bad max_jobs fails, on its own
            jobs: list[Job] = await _LEASE(self, queue, max_jobs=max_jobs, visibility_ms=visibility_ms, wait_ms=wait_ms)
            return jobs
        return await self._leases.submit((queue, visibility_ms), max_jobs)

    async def _lease_one(self, key: tuple[str, int], max_jobs: int) -> list[Job]:
        queue, visibility_ms = key
        jobs: list[Job] = await _LEASE(self, queue, max_jobs=max_jobs, visibility_ms=visibility_ms)
        return jobs

    async def _lease_all(self, key: tuple[str, int], wanted: list[int]) -> list[list[Job]]:
        queue, visibility_ms = key  # one call, but each lease counted as its own (rate-limit refusals)
        shares: list[list[Job]] = await _LEASE_EACH(self, queue, wanted, visibility_ms=visibility_ms)
        return shares

    async def ack(self, job_id: str, lease_id: str) -> None:
        await self._acks.submit(None, (job_id, lease_id))

    async def _ack_one(self, _: None, ack: tuple[str, str]) -> None:
        await _ACK(self, *ack)

    async def _ack_all(self, _: None, acks: list[tuple[str, str]]) -> list[BaseException | None]:
        results: list[AckResult] = await _ACK_BATCH(self, acks)
        return [None if result.queue is not None else result.failure() for result in results]

    async def enqueue_batch(self, queue: str, requests: Sequence[wire.EnqueueRequest]) -> list[InsertResult]:
        self._check(queue, requests, "jobs")
        results: list[InsertResult] = await _ENQUEUE_BATCH(self, queue, requests)
        return results

    async def put_schedule(self, name: str, body: wire.ScheduleBody) -> Schedule:
        check_schedule(name, body, now_ms=self.now_ms(), max_payload_bytes=self._max_payload_bytes)
        schedule: Schedule = await _PUT_SCHEDULE(self, name, body)
        return schedule

    def _check(self, queue: str, requests: Sequence[wire.EnqueueRequest], prefix: str | None) -> None:
        check_insert(queue, requests, now_ms=self.now_ms(), max_payload_bytes=self._max_payload_bytes, prefix=prefix)

    def _on_event(self, event: list[Any]) -> None:
        kind, job_id, lease_id, *rest = event
        for listener in self._listeners:
            if kind == "released":
                listener.released(job_id, lease_id)
            else:
                listener.extended(job_id, lease_id, rest[0])


_ENQUEUE = _remote(CALLS_BY_NAME["enqueue"])
_ENQUEUE_BATCH = _remote(CALLS_BY_NAME["enqueue_batch"])
_PUT_SCHEDULE = _remote(CALLS_BY_NAME["put_schedule"])
_LEASE = _remote(CALLS_BY_NAME["lease"])
_LEASE_EACH = _remote(CALLS_BY_NAME["lease_each"])
_ACK = _remote(CALLS_BY_NAME["ack"])
_ACK_BATCH = _remote(CALLS_BY_NAME["ack_batch"])
for _call in CALLS:
    if not hasattr(ManagerProxy, _call.name):
        setattr(ManagerProxy, _call.name, _remote(_call))
