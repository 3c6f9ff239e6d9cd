"""What a workload needs from a server, whatever the protocol: enqueue, lease, ack, counts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import orjson

from rivetq.bench.recorder import OpStats

__all__ = [
    "PROBE_TIMEOUT_S",
    "AckingLeaseTransport",
    "LeasedJob",
    "StreamingTransport",
    "Transport",
    "enqueued_at",
    "enqueued_at_of_json",
]


PROBE_TIMEOUT_S = 5.0  # how long the tool waits for a first answer before giving up


@dataclass(frozen=True)
class LeasedJob:
    job_id: str
    lease_id: str
    enqueued_at: float | None  # the producer's time.time(), carried in the payload


def enqueued_at(payload: Any) -> float | None:
    """The producer's timestamp ``t`` of a decoded payload (None for foreign jobs)."""
    value = payload.get("t") if isinstance(payload, dict) else None
    return float(value) if isinstance(value, int | float) else None


def enqueued_at_of_json(payload: bytes) -> float | None:
    try:
        return enqueued_at(orjson.loads(payload))
    except orjson.JSONDecodeError:
        return None


class Transport(Protocol):
    """Every call is timed into ``stats``; a failed call is recorded there, never raised."""

    async def enqueue(self, queue: str, payloads: list[dict[str, Any]], priority: int, stats: OpStats) -> int:
        """One job (the single-job call) or a batch; returns how many were created."""
        ...

    async def lease(
        self, queue: str, *, max_jobs: int, visibility_ms: int, wait_ms: int, stats: OpStats
    ) -> list[LeasedJob]: ...

    async def ack(self, jobs: list[LeasedJob], stats: OpStats) -> int:
        """One job (the single-job call) or a batch; returns how many acks succeeded."""
        ...

    async def queue_counts(self, queue: str) -> dict[str, int] | None:
        """``ready``, ``delayed``, ``inflight`` and ``dlq`` of ``queue`` now (None if unreadable)."""
        ...

    async def unreachable(self) -> str | None:
        """Why no server answers, naming the address tried; None when one does."""
        ...


@runtime_checkable
class StreamingTransport(Transport, Protocol):
    def stream_lease(
        self, queue: str, *, max_unacked: int, visibility_ms: int, stats: OpStats
    ) -> AsyncIterator[list[LeasedJob]]:
        """Batches of jobs pushed by the server as they become ready."""
        ...


@runtime_checkable
class AckingLeaseTransport(Transport, Protocol):
    async def ack_and_lease(
        self, queue: str, acks: list[LeasedJob], *, max_jobs: int, visibility_ms: int, wait_ms: int, stats: OpStats
    ) -> tuple[int, list[LeasedJob]] | None:
        """Ack ``acks`` and lease in one call: (acks that succeeded, jobs leased), or None
        if the call failed (so the acks may not have happened)."""
        ...
