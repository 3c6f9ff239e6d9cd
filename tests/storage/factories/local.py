"""Contract-suite factory for the embedded engine (a real data dir, fsync on)."""

from __future__ import annotations

from pathlib import Path

from rivetq.storage.base import Storage
from rivetq.storage.local import LocalOptions, LocalStorage
from tests.storage.factories import BackendFactory

__all__ = ["make_factory"]


class LocalFactory:
    name = "local"
    durable = True

    def __init__(self, data_dir: Path) -> None:
        self._options = LocalOptions(data_dir=data_dir, segment_size=1 << 20)
        self._open: list[LocalStorage] = []

    async def create(self) -> Storage:
        return await self._start()

    async def reopen(self, storage: Storage) -> Storage:
        await storage.close()
        return await self._start()

    async def cleanup(self) -> None:
        for storage in self._open:
            await storage.close()
        self._open.clear()

    async def _start(self) -> LocalStorage:
        storage = LocalStorage(self._options)
        await storage.open()
        self._open.append(storage)
        return storage


def make_factory(tmp_path: Path) -> BackendFactory:
    return LocalFactory(tmp_path / "data")
