"""The access log for gRPC (``logging.access_log``): one line per call with the method,
the status code it ended with, its duration and the client's address."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import grpc

from rivetq.server.access_log import log_rpc
from rivetq.server.grpc.auth import peer_host
from rivetq.server.grpc.errors import Context
from rivetq.server.grpc.wrapping import Handler, WrappingInterceptor, wrapped

__all__ = ["AccessLogInterceptor"]


def _log(method: str, context: Context, started: float, failure: BaseException | None) -> None:
    code = context.code()
    if code is None:
        if isinstance(failure, asyncio.CancelledError):
            code = grpc.StatusCode.CANCELLED
        else:
            code = grpc.StatusCode.OK if failure is None else grpc.StatusCode.UNKNOWN
    log_rpc(method, code.name, time.perf_counter() - started, peer_host(context.peer()))


@contextlib.contextmanager
def _logged(method: str, context: Context) -> Iterator[None]:
    """Logs the call that runs inside, however it ends."""
    started = time.perf_counter()
    try:
        yield
    except BaseException as error:
        _log(method, context, started, error)
        raise
    _log(method, context, started, None)


class AccessLogInterceptor(WrappingInterceptor):
    """Logs every call, the reflection and health services' too."""

    def wrap(self, method: str, handler: Handler) -> Handler:
        def unary(behavior: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
            async def logged(request: Any, context: Context) -> Any:
                with _logged(method, context):
                    return await behavior(request, context)

            return logged

        def stream(behavior: Callable[..., Any]) -> Callable[..., AsyncIterator[Any]]:
            async def logged(request: Any, context: Context) -> AsyncIterator[Any]:
                with _logged(method, context):
                    async for response in behavior(request, context):
                        yield response

            return logged

        return wrapped(handler, unary=unary, stream=stream)
