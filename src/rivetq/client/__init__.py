"""The Python SDK: ``Client``, ``AsyncClient``, ``Worker``, ``AsyncWorker`` and what they return."""

from rivetq.client.client import AsyncClient, Client
from rivetq.client.models import AckItemResult, Job, JobPage, JobSpec, QueueStats, QueueSummary, RateLimit

__all__ = [
    "AckItemResult",
    "AsyncClient",
    "Client",
    "Job",
    "JobPage",
    "JobSpec",
    "QueueStats",
    "QueueSummary",
    "RateLimit",
]
