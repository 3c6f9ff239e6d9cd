"""Contract-suite factory for the in-memory reference backend."""

from __future__ import annotations

from pathlib import Path

from rivetq.storage.base import Storage
from rivetq.storage.memory import MemoryStorage
from tests.storage.factories import BackendFactory

__all__ = ["make_factory"]


class MemoryFactory:
    name = "memory"
    durable = False

    async def create(self) -> Storage:
        storage = MemoryStorage()
        await storage.open()
        return storage

    async def reopen(self, storage: Storage) -> Storage:
        return storage

    async def cleanup(self) -> None:
        return None


def make_factory(tmp_path: Path) -> BackendFactory:
    return MemoryFactory()
