"""The Python SDK: ``Client``, ``AsyncClient``, ``Worker``, ``AsyncWorker`` and what they return."""

from rivetq.client._worker_base import WorkerOptions
from rivetq.client.async_worker import AsyncWorker
from rivetq.client.client import AsyncClient, Client
from rivetq.client.models import (
    AckedLease,
    AckItemResult,
    Job,
    JobPage,
    JobSpec,
    QueueStats,
    QueueSummary,
    RateLimit,
    RetryPolicy,
    Schedule,
)
from rivetq.client.worker import Worker

__all__ = [
    "AckItemResult",
    "AckedLease",
    "AsyncClient",
    "AsyncWorker",
    "Client",
    "Job",
    "JobPage",
    "JobSpec",
    "QueueStats",
    "QueueSummary",
    "RateLimit",
    "RetryPolicy",
    "Schedule",
    "Worker",
    "WorkerOptions",
]
