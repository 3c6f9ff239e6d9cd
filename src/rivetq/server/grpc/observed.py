"""Every gRPC call seen as it ends, with its method, the status code it ended with and its
duration: in ``rivetq_grpc_request_duration_seconds`` and, with ``logging.access_log``, one
line per call with the client's address."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any

import grpc
from prometheus_client import Histogram

from rivetq.server.access_log import log_rpc
from rivetq.server.grpc.auth import peer_host
from rivetq.server.grpc.errors import Context
from rivetq.server.grpc.wrapping import Handler, WrappingInterceptor, wrapped

__all__ = ["CallObserver", "ObservingInterceptor", "log_call", "timed_calls"]

# method, status code name, seconds, the call's context
CallObserver = Callable[[str, str, float, Context], None]


def log_call(method: str, code: str, elapsed_s: float, context: Context) -> None:
    log_rpc(method, code, elapsed_s, peer_host(context.peer()))


def timed_calls(histogram: Histogram) -> CallObserver:
    def observe(method: str, code: str, elapsed_s: float, _: Context) -> None:
        histogram.labels(method, code).observe(elapsed_s)

    return observe


def _code(context: Context, failure: BaseException | None) -> str:
    code = context.code()
    if code is None:
        if isinstance(failure, asyncio.CancelledError):
            code = grpc.StatusCode.CANCELLED
        else:
            code = grpc.StatusCode.OK if failure is None else grpc.StatusCode.UNKNOWN
    return str(code.name)


class ObservingInterceptor(WrappingInterceptor):
    """Shows every call to each observer, the reflection and health services' too."""

    def __init__(self, observers: Sequence[CallObserver]) -> None:
        super().__init__()
        self._observers = tuple(observers)

    def _ended(self, method: str, context: Context, started: float, failure: BaseException | None) -> None:
        code, elapsed_s = _code(context, failure), time.perf_counter() - started
        for observer in self._observers:
            observer(method, code, elapsed_s, context)

    @contextlib.contextmanager
    def _observed(self, method: str, context: Context) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        except BaseException as error:
            self._ended(method, context, started, error)
            raise
        self._ended(method, context, started, None)

    def wrap(self, method: str, handler: Handler) -> Handler:
        def unary(behavior: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
            async def observed(request: Any, context: Context) -> Any:
                with self._observed(method, context):
                    return await behavior(request, context)

            return observed

        def stream(behavior: Callable[..., Any]) -> Callable[..., AsyncIterator[Any]]:
            # A stream the client cancels leaves this generator suspended at its yield,
            # never resumed (closed only when collected): the call's end is its done callback.
            async def observed(request: Any, context: Context) -> AsyncIterator[Any]:
                started, failures = time.perf_counter(), list[BaseException]()

                def ended(done: Context) -> None:
                    cancelled = asyncio.CancelledError() if done.cancelled() else None
                    self._ended(method, done, started, failures[0] if failures else cancelled)

                context.add_done_callback(ended)  # type: ignore[arg-type]  # stubs want a class; any callable works
                try:
                    async for response in behavior(request, context):
                        yield response
                except BaseException as error:
                    failures.append(error)
                    raise

            return observed

        return wrapped(handler, unary=unary, stream=stream)
