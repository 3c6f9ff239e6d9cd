from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest

from rivetq.clock import FakeClock
from rivetq.manager import ManagerOptions, QueueManager
from rivetq.storage.memory import MemoryStorage
from tests.manager.support import RecordingObserver


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def storage() -> MemoryStorage:
    return MemoryStorage()


@pytest.fixture
def observer() -> RecordingObserver:
    return RecordingObserver()


@pytest.fixture
async def manager(storage: MemoryStorage, clock: FakeClock, observer: RecordingObserver) -> AsyncIterator[QueueManager]:
    # A long reaper period: tests reap by calling reap_expired_leases() after moving the clock.
    options = ManagerOptions(
        lease_check_interval_ms=3_600_000, schedule_check_interval_ms=3_600_000, max_payload_bytes=1024
    )
    manager = QueueManager(storage, clock=clock, options=options, observer=observer, rng=random.Random(7))
    await manager.start()
    yield manager
    await manager.stop()
