"""RivetQ: a durable task queue server, with its Python SDK.

``from rivetq import Client, Worker`` gives the SDK. The SDK names load on first use,
so that importing ``rivetq.errors`` (the server, the CLI's ``--help``) does not pay for
the HTTP client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rivetq._version import __version__
from rivetq.errors import (
    ConnectionFailed,
    InvalidArgument,
    JobNotFound,
    LeaseLost,
    PayloadTooLarge,
    QueueNotFound,
    RivetQError,
    ScheduleNotFound,
    StateConflict,
    StorageUnavailable,
    Unauthenticated,
    UnsupportedMediaType,
)

if TYPE_CHECKING:
    from rivetq.client import (
        AckedLease,
        AckItemResult,
        AsyncClient,
        AsyncWorker,
        Client,
        Job,
        JobPage,
        JobSpec,
        QueueStats,
        QueueSummary,
        RateLimit,
        RetryPolicy,
        Schedule,
        Worker,
        WorkerOptions,
    )
    from rivetq.client.grpc_client import GrpcClient

__all__ = [
    "AckItemResult",
    "AckedLease",
    "AsyncClient",
    "AsyncWorker",
    "Client",
    "ConnectionFailed",
    "GrpcClient",
    "InvalidArgument",
    "Job",
    "JobNotFound",
    "JobPage",
    "JobSpec",
    "LeaseLost",
    "PayloadTooLarge",
    "QueueNotFound",
    "QueueStats",
    "QueueSummary",
    "RateLimit",
    "RetryPolicy",
    "RivetQError",
    "Schedule",
    "ScheduleNotFound",
    "StateConflict",
    "StorageUnavailable",
    "Unauthenticated",
    "UnsupportedMediaType",
    "Worker",
    "WorkerOptions",
    "__version__",
]

_SDK_NAMES = frozenset(__all__) - set(globals())  # the names __getattr__ loads from rivetq.client
_MODULE_OF = {"GrpcClient": "rivetq.client.grpc_client"}  # needs the rivetq[grpc] extra


def __getattr__(name: str) -> Any:
    if name in _SDK_NAMES:
        value = getattr(importlib.import_module(_MODULE_OF.get(name, "rivetq.client")), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rivetq' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SDK_NAMES)
