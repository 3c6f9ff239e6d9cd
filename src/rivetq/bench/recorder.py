"""Latency and outcome bookkeeping for the load generator."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["OpStats", "Recorder", "percentile"]


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (NaN when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class OpStats:
    """Outcomes and latencies (seconds) of one kind of call."""

    ok: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def record(self, seconds: float, error: str | None = None) -> None:
        self.latencies.append(seconds)
        if error is None:
            self.ok += 1
        else:
            self.failed += 1
            self.errors[error] = self.errors.get(error, 0) + 1

    def summary(self) -> dict[str, object]:
        ordered = sorted(self.latencies)
        total = self.ok + self.failed
        return {
            "calls": total,
            "ok": self.ok,
            "failed": self.failed,
            "success_rate": (self.ok / total) if total else math.nan,
            "p50_ms": percentile(ordered, 0.50) * 1000,
            "p95_ms": percentile(ordered, 0.95) * 1000,
            "p99_ms": percentile(ordered, 0.99) * 1000,
            "max_ms": (ordered[-1] * 1000) if ordered else math.nan,
            "errors": dict(sorted(self.errors.items())),
        }


@dataclass
class Recorder:
    """Everything one run measures. ``wait`` holds enqueue-to-lease waits (no failures)."""

    enqueue: OpStats = field(default_factory=OpStats)
    lease: OpStats = field(default_factory=OpStats)
    ack: OpStats = field(default_factory=OpStats)
    wait: OpStats = field(default_factory=OpStats)
    jobs_enqueued: int = 0
    jobs_leased: int = 0
    jobs_acked: int = 0
    empty_leases: int = 0
    produce_s: float = 0.0  # how long enqueueing took
    consume_s: float = 0.0  # how long leasing and acking took (to the last ack)

    def progress_line(self, elapsed_s: float) -> str:
        rate = self.jobs_acked / elapsed_s if elapsed_s > 0 else 0.0
        failed = self.enqueue.failed + self.lease.failed + self.ack.failed
        return (
            f"[{elapsed_s:6.1f}s] enqueued {self.jobs_enqueued:>8} leased {self.jobs_leased:>8} "
            f"acked {self.jobs_acked:>8} ({rate:,.0f} jobs/s) failed {failed}"
        )

    def summary(self, elapsed_s: float) -> dict[str, object]:
        return {
            "elapsed_s": elapsed_s,
            "jobs_enqueued": self.jobs_enqueued,
            "jobs_leased": self.jobs_leased,
            "jobs_acked": self.jobs_acked,
            "empty_leases": self.empty_leases,
            "produce_s": self.produce_s,
            "consume_s": self.consume_s,
            "enqueue_jobs_per_s": self.jobs_enqueued / self.produce_s if self.produce_s else math.nan,
            "acked_jobs_per_s": self.jobs_acked / self.consume_s if self.consume_s else math.nan,
            "enqueue": self.enqueue.summary(),
            "lease": self.lease.summary(),
            "ack": self.ack.summary(),
            "enqueue_to_lease": self.wait.summary(),
        }
