"""The access log for gRPC (``logging.access_log``): one line per call with the method,
the status code it ended with, its duration and the client's address."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from rivetq.server.access_log import log_rpc
from rivetq.server.grpc.auth import peer_host
from rivetq.server.grpc.errors import Context
from rivetq.server.grpc.wrapping import Handler, Interceptor, wrapped

__all__ = ["AccessLogInterceptor"]


def _log(method: str, context: Context, started: float, failure: BaseException | None) -> None:
    code = context.code()
    if code is None:
        if isinstance(failure, asyncio.CancelledError):
            code = grpc.StatusCode.CANCELLED
        else:
            code = grpc.StatusCode.OK if failure is None else grpc.StatusCode.UNKNOWN
    log_rpc(method, code.name, time.perf_counter() - started, peer_host(context.peer()))


def _unary(method: str) -> Callable[[Callable[..., Any]], Callable[..., Awaitable[Any]]]:
    def wrap(behavior: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        async def logged(request: Any, context: Context) -> Any:
            started, failure = time.perf_counter(), None
            try:
                return await behavior(request, context)
            except BaseException as error:
                failure = error
                raise
            finally:
                _log(method, context, started, failure)

        return logged

    return wrap


def _stream(method: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(behavior: Callable[..., Any]) -> Callable[..., Any]:
        async def logged(request: Any, context: Context) -> AsyncIterator[Any]:
            started, failure = time.perf_counter(), None
            try:
                async for response in behavior(request, context):
                    yield response
            except BaseException as error:
                failure = error
                raise
            finally:
                _log(method, context, started, failure)

        return logged

    return wrap


class AccessLogInterceptor(Interceptor):
    """Logs every call, the reflection and health services' too."""

    def __init__(self) -> None:
        self._logged: dict[str, Handler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        method: str = handler_call_details.method
        logged = self._logged.get(method)
        if logged is not None:
            return logged
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        self._logged[method] = logged = wrapped(handler, unary=_unary(method), stream=_stream(method))
        return logged
