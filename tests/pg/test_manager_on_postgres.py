"""The ``QueueManager`` tests of ``tests/manager`` (enqueue, lease, retries, admin) run
unchanged on ``PostgresStorage``: all policy works the same over PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from rivetq.storage.postgres import PostgresStorage
from tests.manager.conftest import clock, manager, observer
from tests.manager.test_admin import *  # noqa: F403 - collected again here, on PostgreSQL
from tests.manager.test_enqueue import *  # noqa: F403
from tests.manager.test_lease import *  # noqa: F403
from tests.manager.test_retries import *  # noqa: F403
from tests.pg.cluster import PgCluster

__all__ = ["clock", "manager", "observer", "storage"]


@pytest.fixture
async def storage(pg_cluster: PgCluster) -> AsyncIterator[PostgresStorage]:
    opened = PostgresStorage(pg_cluster.scratch_dsn(), min_pool_size=1, max_pool_size=4)
    await opened.open()
    yield opened
    await opened.close()
