"""RivetQ: a durable task queue server, with its Python SDK."""

from rivetq.errors import (
    InvalidArgument,
    JobNotFound,
    LeaseLost,
    PayloadTooLarge,
    QueueNotFound,
    RivetQError,
    StateConflict,
    StorageUnavailable,
    Unauthenticated,
)

__all__ = [
    "InvalidArgument",
    "JobNotFound",
    "LeaseLost",
    "PayloadTooLarge",
    "QueueNotFound",
    "RivetQError",
    "StateConflict",
    "StorageUnavailable",
    "Unauthenticated",
]
