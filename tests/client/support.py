"""Helpers for SDK and CLI tests: a shared real server per module, unique queue names,
the async client behind a blocking facade (so one test body covers both clients), and
waiting for a real server's state to change."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rivetq.client import AsyncClient, Client
from tests.e2e.server import RunningServer, start_server

__all__ = [
    "BlockingAsyncClient",
    "calls_to",
    "make_client",
    "memory_server",
    "new_queue",
    "server",
    "wait_until",
]

WAIT_TIMEOUT_S = 20.0


def memory_server(directory: Path, **kwargs: Any) -> RunningServer:
    return start_server(directory, "--storage-backend", "memory", grpc=False, **kwargs)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with memory_server(tmp_path_factory.mktemp("rivetqd")) as running:
        yield running


def new_queue() -> str:
    return f"q-{uuid.uuid4().hex[:12]}"


def wait_until(condition: Callable[[], Any], what: str, timeout: float = WAIT_TIMEOUT_S) -> Any:
    """Poll a real server until ``condition()`` is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def calls_to(server: RunningServer, route: str) -> int:
    """Requests the server has answered on ``route`` (a template such as ``/v1/ack``), from its metrics."""
    metrics = httpx.get(f"{server.url}/metrics").text
    prefix = "rivetq_http_request_duration_seconds_count{"
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in metrics.splitlines()
        if line.startswith(prefix) and f'route="{route}"' in line
    )


class BlockingAsyncClient:
    """An ``AsyncClient`` on its own event loop, called like a ``Client``."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._client = self._loop.run_until_complete(self._make(base_url, kwargs))

    @staticmethod
    async def _make(base_url: str, kwargs: dict[str, Any]) -> AsyncClient:
        return AsyncClient(base_url, **kwargs)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._client, name)
        return lambda *args, **kwargs: self._loop.run_until_complete(method(*args, **kwargs))

    def close(self) -> None:
        self._loop.run_until_complete(self._client.aclose())
        self._loop.close()


def make_client(kind: str, base_url: str, **kwargs: Any) -> Client | BlockingAsyncClient:
    return Client(base_url, **kwargs) if kind == "sync" else BlockingAsyncClient(base_url, **kwargs)
