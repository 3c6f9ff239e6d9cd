"""Runs the storage contract suite once per backend listed in ``FACTORY_MODULES``
(see ``tests/storage/factories/__init__.py`` for the seam)."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rivetq.storage.base import Storage
from tests.storage.factories import FACTORY_MODULES, BackendFactory


@pytest.fixture(params=FACTORY_MODULES)
async def storage_factory(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BackendFactory]:
    name: str = request.param
    try:
        module = importlib.import_module(f"tests.storage.factories.{name}")
    except ModuleNotFoundError as error:
        pytest.fail(f"storage backend factory tests/storage/factories/{name}.py cannot be imported: {error}")
    factory: BackendFactory = module.make_factory(tmp_path)
    try:
        yield factory
    finally:
        await factory.cleanup()


@pytest.fixture
async def storage(storage_factory: BackendFactory) -> Storage:
    return await storage_factory.create()
