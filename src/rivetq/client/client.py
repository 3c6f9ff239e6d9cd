"""``Client`` (blocking) and ``AsyncClient`` (asyncio) over the REST API.

Both expose the operations of ``rivetq.client._calls`` under the same names and
signatures; only the transport differs. Connections are pooled and reused; calls that
are safe to repeat are retried on connection errors with jittered exponential backoff.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import re
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Generic, ParamSpec, Self, TypeVar, overload

import httpx

from rivetq.client import _calls, _schedule_calls
from rivetq.client._base import Call, backoff_s, connection_failed, error_from_response, may_retry, request_headers

__all__ = ["DEFAULT_URL", "AsyncClient", "Client"]

DEFAULT_URL = "http://127.0.0.1:8080"
P = ParamSpec("P")
T = TypeVar("T")
H = TypeVar("H", httpx.Client, httpx.AsyncClient)
_JSON = {"Content-Type": "application/json"}


class _ClientBase(Generic[H]):
    """The constructor and settings both clients share; each opens its own httpx client."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        token: str | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        backoff_s: float = 0.1,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._retries = retries
        self._backoff_s = backoff_s
        self._http: H = self._open(self._base_url, request_headers(token))

    def _open(self, base_url: str, headers: dict[str, str]) -> H:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        return self._base_url

    def _request_kwargs(self, call: Call[Any]) -> dict[str, Any]:
        return {
            "content": call.body,
            "params": call.params or None,
            "headers": _JSON if call.body is not None else None,
            "timeout": self._timeout + call.extra_timeout_s,
        }


def _result(call: Call[T], response: httpx.Response) -> T:
    if response.is_success:
        return call.parse(response.content)
    raise error_from_response(response.status_code, response.content)


class _Op(Generic[P, T]):
    """A client method made from a call builder of ``_calls``: build, send, parse."""

    def __init__(self, build: Callable[P, Call[T]]) -> None:
        self._build = build
        self.__doc__ = build.__doc__
        # help() and IDEs show the method's result, not the builder's Call[...].
        signature = inspect.signature(build)
        result = re.fullmatch(r"Call\[(.*)\]", str(signature.return_annotation))
        self.signature = signature.replace(return_annotation=result[1] if result else signature.return_annotation)


class _SyncOp(_Op[P, T]):
    """A ``Client`` method."""

    @overload
    def __get__(self, client: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, client: Client, owner: type[Any]) -> Callable[P, T]: ...
    def __get__(self, client: Client | None, owner: type[Any]) -> Self | Callable[P, T]:
        if client is None:
            return self
        build = self._build

        @functools.wraps(build)
        def method(*args: P.args, **kwargs: P.kwargs) -> T:
            return client.send(build(*args, **kwargs))

        method.__signature__ = self.signature  # type: ignore[attr-defined]
        return method


class _AsyncOp(_Op[P, T]):
    """An ``AsyncClient`` coroutine method (the call is built when it is awaited)."""

    @overload
    def __get__(self, client: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, client: AsyncClient, owner: type[Any]) -> Callable[P, Awaitable[T]]: ...
    def __get__(self, client: AsyncClient | None, owner: type[Any]) -> Self | Callable[P, Awaitable[T]]:
        if client is None:
            return self
        build = self._build

        @functools.wraps(build)
        async def method(*args: P.args, **kwargs: P.kwargs) -> T:
            return await client.send(build(*args, **kwargs))

        method.__signature__ = self.signature  # type: ignore[attr-defined]
        return method


class Client(_ClientBase[httpx.Client]):
    """Blocking client; thread-safe, so one instance can serve many threads.

    ``Client("http://127.0.0.1:8080", token=None, timeout=10.0, retries=3)``; use it as a
    context manager or call ``close()``."""

    def _open(self, base_url: str, headers: dict[str, str]) -> httpx.Client:
        return httpx.Client(base_url=base_url, headers=headers)

    def send(self, call: Call[T]) -> T:
        """Send one call, retrying as ``call.retry_safe`` and the error allow."""
        attempt = 0
        while True:
            try:
                response = self._http.request(call.method, call.path, **self._request_kwargs(call))
            except httpx.TransportError as error:
                if not may_retry(call, error, attempt, self._retries):
                    raise connection_failed(self._base_url, call, error) from error
                time.sleep(backoff_s(attempt, self._backoff_s))
                attempt += 1
                continue
            return _result(call, response)

    def close(self) -> None:
        """Close the connections; calls after this fail."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    enqueue = _SyncOp(_calls.enqueue)
    enqueue_batch = _SyncOp(_calls.enqueue_batch)
    lease = _SyncOp(_calls.lease)
    ack = _SyncOp(_calls.ack)
    ack_batch = _SyncOp(_calls.ack_batch)
    ack_and_lease = _SyncOp(_calls.ack_and_lease)
    nack = _SyncOp(_calls.nack)
    extend = _SyncOp(_calls.extend)
    get_job = _SyncOp(_calls.get_job)
    cancel = _SyncOp(_calls.cancel)
    list_queues = _SyncOp(_calls.list_queues)
    stats = _SyncOp(_calls.stats)
    list_jobs = _SyncOp(_calls.list_jobs)
    set_rate_limit = _SyncOp(_calls.set_rate_limit)
    get_rate_limit = _SyncOp(_calls.get_rate_limit)
    delete_rate_limit = _SyncOp(_calls.delete_rate_limit)
    set_retry_policy = _SyncOp(_calls.set_retry_policy)
    get_retry_policy = _SyncOp(_calls.get_retry_policy)
    delete_retry_policy = _SyncOp(_calls.delete_retry_policy)
    pause = _SyncOp(_calls.pause)
    resume = _SyncOp(_calls.resume)
    purge = _SyncOp(_calls.purge)
    delete_queue = _SyncOp(_calls.delete_queue)
    set_concurrency_limit = _SyncOp(_calls.set_concurrency_limit)
    get_concurrency_limit = _SyncOp(_calls.get_concurrency_limit)
    delete_concurrency_limit = _SyncOp(_calls.delete_concurrency_limit)
    put_schedule = _SyncOp(_schedule_calls.put_schedule)
    get_schedule = _SyncOp(_schedule_calls.get_schedule)
    list_schedules = _SyncOp(_schedule_calls.list_schedules)
    delete_schedule = _SyncOp(_schedule_calls.delete_schedule)
    pause_schedule = _SyncOp(_schedule_calls.pause_schedule)
    resume_schedule = _SyncOp(_schedule_calls.resume_schedule)
    run_schedule = _SyncOp(_schedule_calls.run_schedule)
    list_dlq = _SyncOp(_calls.list_dlq)
    requeue_dlq = _SyncOp(_calls.requeue_dlq)
    purge_dlq = _SyncOp(_calls.purge_dlq)
    backup = _SyncOp(_calls.backup)
    healthz = _SyncOp(_calls.healthz)


class AsyncClient(_ClientBase[httpx.AsyncClient]):
    """asyncio client with the methods of ``Client`` as coroutines; use ``async with``
    or ``await client.aclose()``."""

    def _open(self, base_url: str, headers: dict[str, str]) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=base_url, headers=headers)

    async def send(self, call: Call[T]) -> T:
        """Send one call, retrying as ``call.retry_safe`` and the error allow."""
        attempt = 0
        while True:
            try:
                response = await self._http.request(call.method, call.path, **self._request_kwargs(call))
            except httpx.TransportError as error:
                if not may_retry(call, error, attempt, self._retries):
                    raise connection_failed(self._base_url, call, error) from error
                await asyncio.sleep(backoff_s(attempt, self._backoff_s))
                attempt += 1
                continue
            return _result(call, response)

    async def aclose(self) -> None:
        """Close the connections; calls after this fail."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    enqueue = _AsyncOp(_calls.enqueue)
    enqueue_batch = _AsyncOp(_calls.enqueue_batch)
    lease = _AsyncOp(_calls.lease)
    ack = _AsyncOp(_calls.ack)
    ack_batch = _AsyncOp(_calls.ack_batch)
    ack_and_lease = _AsyncOp(_calls.ack_and_lease)
    nack = _AsyncOp(_calls.nack)
    extend = _AsyncOp(_calls.extend)
    get_job = _AsyncOp(_calls.get_job)
    cancel = _AsyncOp(_calls.cancel)
    list_queues = _AsyncOp(_calls.list_queues)
    stats = _AsyncOp(_calls.stats)
    list_jobs = _AsyncOp(_calls.list_jobs)
    set_rate_limit = _AsyncOp(_calls.set_rate_limit)
    get_rate_limit = _AsyncOp(_calls.get_rate_limit)
    delete_rate_limit = _AsyncOp(_calls.delete_rate_limit)
    set_retry_policy = _AsyncOp(_calls.set_retry_policy)
    get_retry_policy = _AsyncOp(_calls.get_retry_policy)
    delete_retry_policy = _AsyncOp(_calls.delete_retry_policy)
    pause = _AsyncOp(_calls.pause)
    resume = _AsyncOp(_calls.resume)
    purge = _AsyncOp(_calls.purge)
    delete_queue = _AsyncOp(_calls.delete_queue)
    set_concurrency_limit = _AsyncOp(_calls.set_concurrency_limit)
    get_concurrency_limit = _AsyncOp(_calls.get_concurrency_limit)
    delete_concurrency_limit = _AsyncOp(_calls.delete_concurrency_limit)
    put_schedule = _AsyncOp(_schedule_calls.put_schedule)
    get_schedule = _AsyncOp(_schedule_calls.get_schedule)
    list_schedules = _AsyncOp(_schedule_calls.list_schedules)
    delete_schedule = _AsyncOp(_schedule_calls.delete_schedule)
    pause_schedule = _AsyncOp(_schedule_calls.pause_schedule)
    resume_schedule = _AsyncOp(_schedule_calls.resume_schedule)
    run_schedule = _AsyncOp(_schedule_calls.run_schedule)
    list_dlq = _AsyncOp(_calls.list_dlq)
    requeue_dlq = _AsyncOp(_calls.requeue_dlq)
    purge_dlq = _AsyncOp(_calls.purge_dlq)
    backup = _AsyncOp(_calls.backup)
    healthz = _AsyncOp(_calls.healthz)
