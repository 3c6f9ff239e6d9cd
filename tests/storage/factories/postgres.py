"""Contract-suite factory for the PostgreSQL backend: an emptied database per test on
the session's real PostgreSQL (``tests/pg/cluster.py``)."""

from __future__ import annotations

from pathlib import Path

from rivetq.storage.base import Storage
from rivetq.storage.postgres import PostgresStorage
from tests.pg.cluster import PgCluster, shared_cluster
from tests.storage.factories import BackendFactory

__all__ = ["make_factory"]


class PostgresFactory:
    name = "postgres"
    durable = True

    def __init__(self, cluster: PgCluster) -> None:
        self._cluster = cluster
        self._dsn: str | None = None
        self._opened: list[PostgresStorage] = []

    async def create(self) -> Storage:
        self._dsn = self._cluster.scratch_dsn()
        return await self._open(self._dsn)

    async def reopen(self, storage: Storage) -> Storage:
        assert self._dsn is not None
        await storage.close()
        return await self._open(self._dsn)

    async def cleanup(self) -> None:
        for storage in self._opened:
            await storage.close()

    async def _open(self, dsn: str) -> PostgresStorage:
        storage = PostgresStorage(dsn, min_pool_size=1, max_pool_size=4)
        await storage.open()
        self._opened.append(storage)
        return storage


def make_factory(tmp_path: Path) -> BackendFactory:
    return PostgresFactory(shared_cluster())
