"""The one table from RivetQ error codes to gRPC status codes, and the decorator that
applies it to every RPC handler.

The stable RivetQ code travels in the trailing metadata ``rivetq-error-code`` so that a
client tells ``lease_lost`` from ``state_conflict`` (both FAILED_PRECONDITION)."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Final, NoReturn, TypeVar

import grpc

from rivetq.errors import RivetQError

__all__ = ["ERROR_CODE_KEY", "ERROR_FIELD_KEY", "STATUS_BY_CODE", "abort_with", "maps_errors", "maps_stream_errors"]

ERROR_CODE_KEY: Final = "rivetq-error-code"
ERROR_FIELD_KEY: Final = "rivetq-error-field"

STATUS_BY_CODE: Final[Mapping[str, grpc.StatusCode]] = {
    "invalid_argument": grpc.StatusCode.INVALID_ARGUMENT,
    "job_not_found": grpc.StatusCode.NOT_FOUND,
    "queue_not_found": grpc.StatusCode.NOT_FOUND,
    "schedule_not_found": grpc.StatusCode.NOT_FOUND,
    "lease_lost": grpc.StatusCode.FAILED_PRECONDITION,
    "state_conflict": grpc.StatusCode.FAILED_PRECONDITION,
    "payload_too_large": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "storage_unavailable": grpc.StatusCode.UNAVAILABLE,
    "storage_corrupt": grpc.StatusCode.DATA_LOSS,
    "unauthenticated": grpc.StatusCode.UNAUTHENTICATED,
}

Context = grpc.aio.ServicerContext[Any, Any]
Self = TypeVar("Self")
Request = TypeVar("Request")
Response = TypeVar("Response")


async def abort_with(context: Context, error: RivetQError) -> NoReturn:
    """End the call with the status for ``error``, its code and field in the trailers."""
    trailers: list[tuple[str, str]] = [(ERROR_CODE_KEY, error.code)]
    if error.field:
        trailers.append((ERROR_FIELD_KEY, error.field))
    await context.abort(STATUS_BY_CODE.get(error.code, grpc.StatusCode.INTERNAL), error.message, tuple(trailers))


def maps_errors(
    method: Callable[[Self, Request, Context], Awaitable[Response]],
) -> Callable[[Self, Request, Context], Awaitable[Response]]:
    """A unary RPC method whose RivetQ errors become gRPC statuses."""

    @functools.wraps(method)
    async def handler(self: Self, request: Request, context: Context) -> Response:
        try:
            return await method(self, request, context)
        except RivetQError as error:
            await abort_with(context, error)

    return handler


def maps_stream_errors(
    method: Callable[[Self, Request, Context], AsyncIterator[Response]],
) -> Callable[[Self, Request, Context], AsyncIterator[Response]]:
    """A server-streaming RPC method whose RivetQ errors become gRPC statuses."""

    @functools.wraps(method)
    async def handler(self: Self, request: Request, context: Context) -> AsyncIterator[Response]:
        try:
            async for response in method(self, request, context):
                yield response
        except RivetQError as error:
            await abort_with(context, error)

    return handler
