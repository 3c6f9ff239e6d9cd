"""The ``QueueManager``'s options and its metrics hook (re-exported by ``rivetq.manager``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from rivetq.models import Job

__all__ = ["LeaseListener", "ManagerOptions", "NullObserver", "Observer"]


@dataclass(frozen=True)
class ManagerOptions:
    dedup_window_ms: int = 86_400_000
    max_payload_bytes: int = 1_048_576
    lease_check_interval_ms: int = 1_000  # reaper period (queue.lease_check_interval)
    reaper_batch: int = 1_000
    schedule_check_interval_ms: int = 1_000  # the scheduler looks at least this often


class Observer(Protocol):
    """Metrics hook; the manager never imports a metrics library."""

    def jobs_enqueued(self, queue: str, count: int) -> None: ...

    def jobs_leased(self, queue: str, jobs: Sequence[Job], now_ms: int) -> None:
        """Wait of each job = now_ms - max(eta_ms, created_at_ms)."""
        ...

    def jobs_acked(self, queue: str, count: int) -> None: ...

    def jobs_nacked(self, queue: str, count: int) -> None: ...

    def jobs_dead(self, queue: str, count: int) -> None:
        """Jobs moved to the dead letter queue (by a nack or an expired lease)."""
        ...

    def leases_expired(self, queue: str, count: int) -> None: ...

    def rate_limited(self, queue: str) -> None:
        """A lease the token bucket cut short."""
        ...

    def queue_deleted(self, queue: str) -> None:
        """The queue was removed entirely: forget its series."""
        ...

    def schedule_fired(self, schedule: str, runs: int, lag_ms: int) -> None:
        """``runs`` jobs enqueued for due ticks, the last ``lag_ms`` after its tick."""
        ...


class LeaseListener(Protocol):
    """Told of every lease this node's manager ends or moves, whichever API the call came
    through (gRPC's StreamLease keeps its slots with it)."""

    def released(self, job_id: str, lease_id: str) -> None:
        """The job was acked or nacked under this lease."""

    def extended(self, job_id: str, lease_id: str, expires_at_ms: int) -> None:
        """The lease now expires at ``expires_at_ms``."""


class NullObserver:
    """The default: observes nothing."""

    def jobs_enqueued(self, queue: str, count: int) -> None:
        return None

    def jobs_leased(self, queue: str, jobs: Sequence[Job], now_ms: int) -> None:
        return None

    def jobs_acked(self, queue: str, count: int) -> None:
        return None

    def jobs_nacked(self, queue: str, count: int) -> None:
        return None

    def jobs_dead(self, queue: str, count: int) -> None:
        return None

    def leases_expired(self, queue: str, count: int) -> None:
        return None

    def rate_limited(self, queue: str) -> None:
        return None

    def queue_deleted(self, queue: str) -> None:
        return None

    def schedule_fired(self, schedule: str, runs: int, lag_ms: int) -> None:
        return None
