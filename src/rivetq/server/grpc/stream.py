"""StreamLease: push jobs to a worker as they become ready, with at most ``max_unacked``
of them leased and unacked at a time.

A stream's slot frees when its job is acked or nacked through this server, over gRPC or
REST (the manager tells ``LeaseStreams``, a ``LeaseListener``), or when the job's lease
expires (an extend through this server moves that expiry). An ack on another node of a
shared PostgreSQL frees the slot only when the lease would have expired. Jobs leased by
a stream that ends stay leased until their leases expire; the manager's reaper then
retries them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Final

from rivetq.errors import InvalidArgument
from rivetq.models import Job

if TYPE_CHECKING:
    from rivetq.service import QueueService

__all__ = ["MAX_UNACKED", "LeaseStreams"]

MAX_UNACKED: Final = 1000


class _Slots:
    """One stream's leased-and-unacked jobs: job id → (lease id, lease expiry in ms)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.held: dict[str, tuple[str, int]] = {}
        self._changed = asyncio.Event()

    def drop_expired(self, now_ms: int) -> list[str]:
        expired = [job_id for job_id, (_, expires_at_ms) in self.held.items() if expires_at_ms <= now_ms]
        for job_id in expired:
            del self.held[job_id]
        return expired

    def hold(self, jobs: Sequence[Job]) -> None:
        for job in jobs:
            assert job.lease_id is not None and job.lease_expires_at_ms is not None
            self.held[job.id] = (job.lease_id, job.lease_expires_at_ms)

    def release(self, job_id: str, lease_id: str) -> bool:
        if self.held.get(job_id, ("", 0))[0] != lease_id:
            return False
        del self.held[job_id]
        self.wake()
        return True

    def extend(self, job_id: str, lease_id: str, expires_at_ms: int) -> None:
        if self.held.get(job_id, ("", 0))[0] == lease_id:
            self.held[job_id] = (lease_id, expires_at_ms)

    def wake(self) -> None:
        self._changed.set()

    async def wait_for_change(self, now_ms: int) -> None:
        """Until a slot is released, the next lease expires, or the streams close (called
        while every slot is held)."""
        soonest_ms = min(expires for _, expires in self.held.values())
        timeout_s = max(soonest_ms - now_ms, 0) / 1000
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout_s)


class LeaseStreams:
    """Every open StreamLease of this server, so that acks through it free their slots.
    It listens to the manager's leases only while a stream is open: with several workers
    every ack would otherwise send an event to each front."""

    def __init__(self, manager: QueueService, *, poll_ms: int = 1_000) -> None:
        self._manager = manager
        self._poll_ms = poll_ms
        self._owner: dict[str, _Slots] = {}
        self._open: set[_Slots] = set()
        self._closing = False

    def released(self, job_id: str, lease_id: str) -> None:
        """The job was acked or nacked: its stream may lease another."""
        slots = self._owner.get(job_id)
        if slots is not None and slots.release(job_id, lease_id):
            del self._owner[job_id]

    def extended(self, job_id: str, lease_id: str, expires_at_ms: int) -> None:
        slots = self._owner.get(job_id)
        if slots is not None:
            slots.extend(job_id, lease_id, expires_at_ms)

    def close(self) -> None:
        """End every stream at its next turn (server shutdown)."""
        self._closing = True
        for slots in self._open:
            slots.wake()

    async def stream(self, queue: str, *, max_unacked: int, visibility_ms: int) -> AsyncIterator[list[Job]]:
        """Batches of newly leased jobs, never more than ``max_unacked`` unacked at once;
        ends when the server stops."""
        if not 1 <= max_unacked <= MAX_UNACKED:
            raise InvalidArgument(f"max_unacked must be 1 to {MAX_UNACKED}", field="max_unacked")
        slots = _Slots(max_unacked)
        if not self._open:
            self._manager.add_lease_listener(self)
        self._open.add(slots)
        try:
            while not self._closing:
                self._forget(slots, slots.drop_expired(self._now_ms()))
                if len(slots.held) >= slots.capacity:
                    await slots.wait_for_change(self._now_ms())
                    continue
                jobs = await self._lease(queue, slots.capacity - len(slots.held), visibility_ms)
                if jobs is None:
                    return
                if jobs:
                    slots.hold(jobs)
                    self._owner.update((job.id, slots) for job in jobs)
                    yield jobs
        finally:
            self._open.discard(slots)
            self._forget(slots, list(slots.held))
            if not self._open:
                self._manager.remove_lease_listener(self)

    async def _lease(self, queue: str, max_jobs: int, visibility_ms: int) -> list[Job] | None:
        """One long-poll; None when the manager is stopping. The manager ends a long-poll
        empty-handed well before its deadline only then, and from then on would answer
        every lease at once: continuing would spin."""
        loop = asyncio.get_running_loop()
        halfway = loop.time() + self._poll_ms / 2000
        jobs = await self._manager.lease(queue, max_jobs=max_jobs, visibility_ms=visibility_ms, wait_ms=self._poll_ms)
        if not jobs and loop.time() < halfway:
            return None
        return jobs

    def _now_ms(self) -> int:
        return self._manager.now_ms()

    def _forget(self, slots: _Slots, job_ids: list[str]) -> None:
        for job_id in job_ids:
            if self._owner.get(job_id) is slots:
                del self._owner[job_id]
