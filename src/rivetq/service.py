"""The seam the REST and gRPC edges call: ``QueueService``.

``QueueManager`` implements it in process; ``rivetq.server.procs.proxy.ManagerProxy``
implements it in a front process by calling the storage owner (``rivetqd --workers N``).
Every async method here crosses that process boundary, so each takes and returns only
values msgspec can encode (Structs, enums, primitives and lists of them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import msgspec

from rivetq import wire
from rivetq.manager_options import LeaseListener
from rivetq.models import (
    AckResult,
    BackupResult,
    InsertResult,
    Job,
    JobPage,
    JobState,
    QueueStats,
    RateLimit,
    RetryPolicy,
    Schedule,
)
from rivetq.storage.base import Storage

__all__ = ["LocalStorageView", "QueueService", "StorageStatus", "StorageView"]


class StorageStatus(msgspec.Struct, frozen=True):
    """What ``/readyz``, gRPC health and ``/metrics`` show of the storage."""

    unavailable_reason: str | None
    gauges: dict[str, float]
    notices: list[str] = []  # problems that do not stop writes, e.g. WAL shipping failing


class StorageView(Protocol):
    async def storage_status(self) -> StorageStatus: ...


@dataclass(frozen=True)
class LocalStorageView:
    """``StorageView`` of a storage in this process."""

    storage: Storage

    async def storage_status(self) -> StorageStatus:
        storage = self.storage
        return StorageStatus(storage.unavailable_reason(), storage.gauges(), storage.notices())


class QueueService(Protocol):
    def now_ms(self) -> int: ...

    def add_lease_listener(self, listener: LeaseListener) -> None: ...

    def remove_lease_listener(self, listener: LeaseListener) -> None: ...

    async def enqueue(self, queue: str, request: wire.EnqueueRequest) -> InsertResult: ...

    async def enqueue_batch(self, queue: str, requests: Sequence[wire.EnqueueRequest]) -> list[InsertResult]: ...

    async def lease(
        self, queue: str, *, max_jobs: int = 1, visibility_ms: int = 30_000, wait_ms: int = 0
    ) -> list[Job]: ...

    async def lease_each(
        self, queue: str, max_jobs_each: Sequence[int], *, visibility_ms: int = 30_000
    ) -> list[list[Job]]:
        """Several callers' leases without a wait, made together (a front's joined leases):
        each is answered, limited and counted (a rate-limit refusal too) as its own call."""
        ...

    async def ack_and_lease(
        self,
        acks: Sequence[tuple[str, str]],
        queue: str,
        *,
        max_jobs: int = 1,
        visibility_ms: int = 30_000,
        wait_ms: int = 0,
    ) -> tuple[list[AckResult], list[Job]]: ...

    async def ack(self, job_id: str, lease_id: str) -> None: ...

    async def ack_batch(self, acks: Sequence[tuple[str, str]]) -> list[AckResult]: ...

    async def nack(
        self, job_id: str, lease_id: str, *, reason: str | None = None, delay_ms: int | None = None
    ) -> JobState: ...

    async def extend(self, job_id: str, lease_id: str, *, visibility_ms: int) -> int: ...

    async def get_job(self, job_id: str) -> Job: ...

    async def cancel(self, job_id: str) -> None: ...

    async def list_queues(self) -> list[QueueStats]: ...

    async def stats(self, queue: str) -> QueueStats: ...

    async def list_jobs(self, queue: str, *, state: JobState | None, limit: int, cursor: str | None) -> JobPage: ...

    async def purge(self, queue: str) -> int: ...

    async def set_rate_limit(self, queue: str, limit: RateLimit) -> None: ...

    async def get_rate_limit(self, queue: str) -> RateLimit | None: ...

    async def delete_rate_limit(self, queue: str) -> None: ...

    async def set_retry_policy(self, queue: str, policy: RetryPolicy) -> None: ...

    async def get_retry_policy(self, queue: str) -> RetryPolicy: ...

    async def pause(self, queue: str) -> None: ...

    async def resume(self, queue: str) -> None: ...

    async def list_dlq(self, queue: str, *, limit: int, cursor: str | None) -> JobPage: ...

    async def requeue_dlq(self, queue: str, job_ids: Sequence[str] | None) -> int: ...

    async def purge_dlq(self, queue: str) -> int: ...

    async def delete_queue(self, queue: str, *, force: bool = False) -> int: ...

    async def set_concurrency_limit(self, queue: str, max_inflight: int) -> None: ...

    async def get_concurrency_limit(self, queue: str) -> int | None: ...

    async def delete_concurrency_limit(self, queue: str) -> None: ...

    async def put_schedule(self, name: str, body: wire.ScheduleBody) -> Schedule: ...

    async def get_schedule(self, name: str) -> Schedule: ...

    async def list_schedules(self) -> list[Schedule]: ...

    async def delete_schedule(self, name: str) -> None: ...

    async def pause_schedule(self, name: str) -> Schedule: ...

    async def resume_schedule(self, name: str) -> Schedule: ...

    async def run_schedule(self, name: str) -> InsertResult: ...

    async def backup(self, dest: str) -> BackupResult: ...
