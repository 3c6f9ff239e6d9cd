"""The in-process REST tests of ``tests/server`` (jobs, queues, DLQ, rate limits), run
unchanged on ``PostgresStorage``: the same API answers the same way on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from rivetq.clock import FakeClock
from rivetq.server.app import Runtime
from rivetq.settings import Settings
from rivetq.storage.postgres import PostgresStorage
from tests.pg.cluster import PgCluster
from tests.server.conftest import LOOPBACK_CLIENT, ApiClient, ClientFactory, client, clock
from tests.server.test_rest_jobs import *  # noqa: F403 - collected again here, on PostgreSQL
from tests.server.test_rest_queues import *  # noqa: F403
from tests.server.test_rest_retry_policy import *  # noqa: F403

__all__ = ["client", "clock", "make_client"]


@pytest.fixture
async def make_client(clock: FakeClock, tmp_path: Path, pg_cluster: PgCluster) -> AsyncIterator[ClientFactory]:
    """As ``tests/server/conftest.py``'s, with every runtime on one emptied database."""
    dsn = pg_cluster.scratch_dsn()
    async with AsyncExitStack() as stack:

        async def make(
            settings: Settings | None = None,
            client: tuple[str, int] = LOOPBACK_CLIENT,
            ui_static_dir: Path | None = None,
        ) -> ApiClient:
            storage = PostgresStorage(dsn, min_pool_size=1, max_pool_size=4)
            runtime = Runtime(
                settings or Settings(), storage=storage, clock=clock, ui_static_dir=ui_static_dir or tmp_path
            )
            await stack.enter_async_context(runtime)
            return await stack.enter_async_context(ApiClient(runtime, client))

        yield make
