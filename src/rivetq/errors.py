"""One error tree for the whole project.

Every error has a stable ``code`` string; the edges (REST, gRPC, SDK, CLI) translate
codes to HTTP statuses, gRPC status codes and SDK exceptions with one table each.
"""

from __future__ import annotations

__all__ = [
    "ConnectionFailed",
    "InvalidArgument",
    "JobNotFound",
    "LeaseLost",
    "PayloadTooLarge",
    "QueueNotFound",
    "ScheduleNotFound",
    "RivetQError",
    "StateConflict",
    "StorageSetupFailed",
    "StorageCorrupt",
    "StorageUnavailable",
    "Unauthenticated",
    "UnsupportedMediaType",
    "error_for_code",
]


class RivetQError(Exception):
    """Root of every error RivetQ raises on purpose."""

    code: str = "internal"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class InvalidArgument(RivetQError):
    """A request field is missing, malformed or out of range (HTTP 400)."""

    code = "invalid_argument"


class Unauthenticated(RivetQError):
    """Missing or wrong bearer token (HTTP 401)."""

    code = "unauthenticated"


class JobNotFound(RivetQError):
    """No job has this id (HTTP 404)."""

    code = "job_not_found"


class QueueNotFound(RivetQError):
    """The queue has never existed (HTTP 404)."""

    code = "queue_not_found"


class ScheduleNotFound(RivetQError):
    """No schedule has this name (HTTP 404)."""

    code = "schedule_not_found"


class LeaseLost(RivetQError):
    """The lease id is wrong or the lease expired (HTTP 409)."""

    code = "lease_lost"


class StateConflict(RivetQError):
    """The job is in a state that forbids the operation, e.g. cancel while inflight (HTTP 409)."""

    code = "state_conflict"


class PayloadTooLarge(RivetQError):
    """The request body or a payload exceeds the configured limit (HTTP 413)."""

    code = "payload_too_large"


class UnsupportedMediaType(RivetQError):
    """A state-changing call without ``Content-Type: application/json`` (HTTP 415)."""

    code = "unsupported_media_type"


class StorageUnavailable(RivetQError):
    """The storage cannot accept writes: disk full, fsync failure, lost database (HTTP 503)."""

    code = "storage_unavailable"


class StorageSetupFailed(StorageUnavailable):
    """The storage cannot be used as configured: PostgreSQL refuses the connection or the
    login, the database is missing, the role lacks a privilege. Only an operator can fix
    it, so ``rivetqd`` and ``rivetqd migrate`` stop with exit status 2."""


class StorageCorrupt(RivetQError):
    """Stored data failed a check on read (a checksum, a missing record or log segment):
    the server's disk was damaged, not the request (HTTP 500)."""

    code = "storage_corrupt"


class ConnectionFailed(RivetQError, ConnectionError):
    """The SDK could not reach the server (refused, reset, timed out), after its retries.
    Also a builtin ``ConnectionError``, so generic network handling catches it."""

    code = "connection_failed"


_BY_CODE: dict[str, type[RivetQError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        Unauthenticated,
        JobNotFound,
        QueueNotFound,
        ScheduleNotFound,
        LeaseLost,
        StateConflict,
        PayloadTooLarge,
        UnsupportedMediaType,
        StorageUnavailable,
        StorageCorrupt,
    )
}


def error_for_code(code: str, message: str) -> RivetQError:
    """Rebuild the error a server reported (used by the SDKs)."""
    return _BY_CODE.get(code, RivetQError)(message)
