"""Prometheus metrics with the seed's exact names, one registry per server.

``Metrics`` is the manager's ``Observer``: counters move as the manager reports events.
Queue gauges (ready, inflight, dlq) and WAL gauges are computed at scrape time from
``manager.list_queues()`` and ``storage.gauges()``, so they never drift or go stale.

With ``rivetqd --workers N`` every process counts into files under
``PROMETHEUS_MULTIPROC_DIR`` (the supervisor sets it for its children), and a scrape
through any front sums them all: one set of series for the server.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from rivetq.models import Job, QueueStats

__all__ = ["CONTENT_TYPE", "MULTIPROCESS_DIR_ENV", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus_client when imported
_QUEUE = ("queue",)
_REQUEST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25)
_FSYNC_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)
_WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)


class _ScrapeGauges(Collector):
    """Gauges from the snapshot taken just before each scrape."""

    def __init__(self) -> None:
        self.queues: Sequence[QueueStats] = ()
        self.queues_known = False
        self.schedules: frozenset[str] | None = None  # the live schedules' names, when known
        self.storage: dict[str, float] = {}

    def without_deleted(self, metrics: Iterable[Metric]) -> list[Metric]:
        """``metrics`` without the samples of queues and schedules deleted since their
        series were made (left out while the live lists are known): a deleted one's series
        stay in the registry or in another process's files."""
        live_queues = {stats.queue for stats in self.queues} if self.queues_known else None
        kept = list(metrics)
        for metric in kept:
            metric.samples = [sample for sample in metric.samples if _live(sample.labels, live_queues, self.schedules)]
        return kept

    def collect(self) -> Iterator[Metric]:
        for name, documentation, attribute in (
            ("rivetq_jobs_ready", "Jobs ready to lease.", "ready"),
            ("rivetq_jobs_inflight", "Jobs leased and not yet acked, nacked or expired.", "inflight"),
            ("rivetq_jobs_dlq", "Jobs in the dead letter queue.", "dlq"),
        ):
            family = GaugeMetricFamily(name, documentation, labels=_QUEUE)
            for stats in self.queues:
                family.add_metric([stats.queue], getattr(stats, attribute))
            yield family
        storage = self.storage
        yield GaugeMetricFamily("rivetq_wal_segments", "WAL segment files.", storage.get("wal_segments", 0))
        yield GaugeMetricFamily("rivetq_wal_size_bytes", "Bytes in WAL segments.", storage.get("wal_size_bytes", 0))
        if "disk_space_alarm" in storage:
            alarm = "1 while free disk space is low: enqueues refused, draining goes on."
            yield GaugeMetricFamily("rivetq_disk_space_alarm", alarm, storage["disk_space_alarm"])
            free = storage["disk_free_bytes"]
            yield GaugeMetricFamily("rivetq_disk_free_bytes", "Free bytes on the data dir's file system.", free)
        if "backup_lag_seconds" in storage:
            yield from _backup_families(storage)


def _backup_families(storage: dict[str, float]) -> Iterator[Metric]:
    """WAL shipping (``backup.url`` set)."""
    lag = "How far the shipped WAL is behind the durable one: writes acknowledged before this are in the backup."
    yield GaugeMetricFamily("rivetq_backup_lag_seconds", lag, storage["backup_lag_seconds"])
    shipped = "The last WAL record (LSN) shipped to backup.url."
    yield GaugeMetricFamily("rivetq_backup_shipped_lsn", shipped, storage["backup_shipped_lsn"])
    errors = "Shipping passes that failed (each retried with backoff)."
    yield CounterMetricFamily("rivetq_backup_upload_errors", errors, storage["backup_upload_errors"])


def _live(labels: dict[str, str], queues: set[str] | None, schedules: frozenset[str] | None) -> bool:
    if queues is not None and "queue" in labels and labels["queue"] not in queues:
        return False
    return schedules is None or "schedule" not in labels or labels["schedule"] in schedules


class _LiveSeries(Collector):
    """This process's registry, as live series only (``rivetqd --workers 1``)."""

    def __init__(self, registry: CollectorRegistry, gauges: _ScrapeGauges) -> None:
        self._registry = registry
        self._gauges = gauges

    def collect(self) -> Iterable[Metric]:
        return self._gauges.without_deleted(self._registry.collect())


class _ProcessFiles(MultiProcessCollector):
    """Every process's metric files, but not one that a starting process has created and
    not yet sized (reading it would fail the scrape), as live series only."""

    def __init__(self, registry: CollectorRegistry, path: str, gauges: _ScrapeGauges) -> None:
        super().__init__(registry, path)  # type: ignore[no-untyped-call]
        self._gauges = gauges

    def collect(self) -> Iterable[Metric]:
        files = [str(path) for path in Path(self._path).glob("*.db") if path.stat().st_size > 0]
        return self._gauges.without_deleted(self.merge(files, accumulate=True))  # type: ignore[no-untyped-call]


class Metrics:
    """The server's metrics; implements the manager's ``Observer``."""

    def __init__(self) -> None:
        # The *_created series would double the exposition for no use here.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=True)
        self._gauges = _ScrapeGauges()
        self._exposed = CollectorRegistry()
        multiprocess_dir = os.environ.get(MULTIPROCESS_DIR_ENV)
        if multiprocess_dir:  # expose every process's files, not this process's own metrics
            _ProcessFiles(self._exposed, multiprocess_dir, self._gauges)
            self._exposed.register(self._gauges)
        else:
            self.registry.register(self._gauges)
            self._exposed.register(_LiveSeries(self.registry, self._gauges))
        self._render_lock = threading.Lock()
        self._enqueued = self._counter("rivetq_jobs_enqueued", "Jobs enqueued.")
        self._leased = self._counter("rivetq_jobs_leased", "Jobs handed out by leases.")
        self._acked = self._counter("rivetq_jobs_acked", "Jobs acked (done).")
        self._nacked = self._counter("rivetq_jobs_nacked", "Jobs nacked (failed attempts reported by workers).")
        self._rate_limited = self._counter("rivetq_rate_limit_rejections", "Leases cut short by a rate limit.")
        self._expired = self._counter("rivetq_lease_expirations", "Leases that expired without ack.")
        self._dead = self._counter("rivetq_dlq_moves", "Jobs moved to the dead letter queue.")
        self._schedule_runs = Counter(
            "rivetq_schedule_runs", "Jobs enqueued by a schedule's ticks.", ("schedule",), registry=self.registry
        )
        self._schedule_lag = Gauge(
            "rivetq_schedule_lag_seconds",
            "How long after its tick a schedule's latest run was enqueued.",
            ("schedule",),
            multiprocess_mode="mostrecent",  # one value per schedule, not one per process
            registry=self.registry,
        )
        self._per_queue = (
            self._enqueued,
            self._leased,
            self._acked,
            self._nacked,
            self._rate_limited,
            self._expired,
            self._dead,
        )
        self.http_request_duration = Histogram(
            "rivetq_http_request_duration_seconds",
            "HTTP request latency.",
            ("method", "route", "status"),
            buckets=_REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.grpc_request_duration = Histogram(
            "rivetq_grpc_request_duration_seconds",
            "gRPC call latency (a StreamLease's: the stream's life).",
            ("method", "code"),
            buckets=_REQUEST_BUCKETS,
            registry=self.registry,
        )
        self._fsync = Histogram(
            "rivetq_wal_fsync_duration_seconds",
            "WAL fdatasync latency.",
            buckets=_FSYNC_BUCKETS,
            registry=self.registry,
        )
        self._wait = Histogram(
            "rivetq_enqueue_to_lease_seconds",
            "Time from a job becoming ready to its lease.",
            _QUEUE,
            buckets=_WAIT_BUCKETS,
            registry=self.registry,
        )

    def _counter(self, name: str, documentation: str) -> Counter:
        return Counter(name, documentation, _QUEUE, registry=self.registry)

    def render(
        self,
        queues: Sequence[QueueStats] | None,
        storage_gauges: dict[str, float],
        schedules: Iterable[str] | None = None,
    ) -> bytes:
        """The exposition text, with gauges from this snapshot (thread-safe: scrapes render
        off the event loop, since thousands of queues take a good part of a second);
        ``queues`` and ``schedules`` (names) are None when the storage could not list them."""
        with self._render_lock:
            self._gauges.queues, self._gauges.storage = queues or (), storage_gauges
            self._gauges.queues_known = queues is not None
            self._gauges.schedules = None if schedules is None else frozenset(schedules)
            return generate_latest(self._exposed)

    def observe_fsync(self, seconds: float) -> None:
        self._fsync.observe(seconds)

    # -- Observer ---------------------------------------------------------------

    def jobs_enqueued(self, queue: str, count: int) -> None:
        self._enqueued.labels(queue).inc(count)

    def jobs_leased(self, queue: str, jobs: Sequence[Job], now_ms: int) -> None:
        self._leased.labels(queue).inc(len(jobs))
        wait = self._wait.labels(queue)
        for job in jobs:
            wait.observe(max(0, now_ms - max(job.eta_ms, job.created_at_ms)) / 1000)

    def jobs_acked(self, queue: str, count: int) -> None:
        self._acked.labels(queue).inc(count)

    def jobs_nacked(self, queue: str, count: int) -> None:
        self._nacked.labels(queue).inc(count)

    def jobs_dead(self, queue: str, count: int) -> None:
        self._dead.labels(queue).inc(count)

    def leases_expired(self, queue: str, count: int) -> None:
        self._expired.labels(queue).inc(count)

    def rate_limited(self, queue: str) -> None:
        self._rate_limited.labels(queue).inc()

    def schedule_fired(self, schedule: str, runs: int, lag_ms: int) -> None:
        self._schedule_runs.labels(schedule).inc(runs)
        self._schedule_lag.labels(schedule).set(lag_ms / 1000)

    def queue_deleted(self, queue: str) -> None:
        with self._render_lock:  # not while a scrape renders them
            for family in (*self._per_queue, self._wait):
                with contextlib.suppress(KeyError):  # never observed on this node
                    family.remove(queue)
