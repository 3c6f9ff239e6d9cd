"""In-process server tests: the real Starlette app over a real QueueManager on
MemoryStorage with a FakeClock, driven through ``httpx.ASGITransport``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest

from rivetq.clock import FakeClock
from rivetq.server.app import Runtime
from rivetq.settings import Settings, load_settings
from rivetq.storage.memory import MemoryStorage

JSON = {"Content-Type": "application/json"}
LOOPBACK_CLIENT = ("127.0.0.1", 50_000)


class ApiClient(httpx.AsyncClient):
    """An httpx client on one in-process runtime (``runtime`` for manager-level steps
    such as a reaper pass)."""

    def __init__(self, runtime: Runtime, client: tuple[str, int]) -> None:
        transport = httpx.ASGITransport(app=runtime.app, client=client)
        super().__init__(transport=transport, base_url="http://localhost:8080", headers=JSON)
        self.runtime = runtime


ClientFactory = Callable[..., Awaitable[ApiClient]]


def settings_with(**dotted: object) -> Settings:
    """Settings from flag-style overrides, e.g. ``settings_with(**{"auth.tokens": ["t"]})``."""
    return load_settings(env={}, overrides=dotted)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make_client(clock: FakeClock, tmp_path: Path) -> AsyncIterator[ClientFactory]:
    """``await make_client(settings=..., client=(host, port), ui_static_dir=...)`` → an
    AsyncClient on a started runtime; everything stops at teardown."""
    async with AsyncExitStack() as stack:

        async def make(
            settings: Settings | None = None,
            client: tuple[str, int] = LOOPBACK_CLIENT,
            ui_static_dir: Path | None = None,
        ) -> ApiClient:
            runtime = Runtime(
                settings or Settings(),
                storage=MemoryStorage(),
                clock=clock,
                ui_static_dir=ui_static_dir or tmp_path / "no-ui",
            )
            await stack.enter_async_context(runtime)
            return await stack.enter_async_context(ApiClient(runtime, client))

        yield make


@pytest.fixture
async def client(make_client: ClientFactory) -> ApiClient:
    return await make_client()


async def enqueue(client: httpx.AsyncClient, queue: str = "emails", **fields: object) -> str:
    response = await client.post(f"/v1/queues/{queue}/enqueue", json={"payload": {"to": "a@example.com"}, **fields})
    assert response.status_code == 201, response.text
    job_id: str = response.json()["job_id"]
    return job_id


async def lease_one(client: httpx.AsyncClient, queue: str = "emails", **fields: object) -> dict[str, object]:
    response = await client.post(f"/v1/queues/{queue}/lease", json=fields)
    assert response.status_code == 200, response.text
    [job] = response.json()["jobs"]
    return dict(job)
