"""The lease reaper runs on its own, survives storage outages, and reports its death."""

from __future__ import annotations

import asyncio
import logging

import pytest

from rivetq.clock import FakeClock
from rivetq.errors import StorageCorrupt, StorageUnavailable
from rivetq.manager import ManagerOptions, QueueManager
from rivetq.models import Job
from rivetq.storage.memory import MemoryStorage
from tests.manager.support import QUEUE, RecordingObserver, job

FAST_REAPER = ManagerOptions(lease_check_interval_ms=1)
HANG_GUARD_S = 10


class _FailingStorage(MemoryStorage):
    """Fails ``expired_leases`` with the given errors, one per call, then works."""

    def __init__(self, *errors: Exception) -> None:
        super().__init__()
        self.errors = list(errors)
        self.calls = 0

    async def expired_leases(self, *, now_ms: int, limit: int) -> list[Job]:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return await super().expired_leases(now_ms=now_ms, limit=limit)


async def _until_expired(observer: RecordingObserver) -> None:
    async with asyncio.timeout(HANG_GUARD_S):
        while observer.counts[("expired", QUEUE)] == 0:
            observer.changed.clear()
            await observer.changed.wait()


async def test_reaper_loop_moves_expired_leases(clock: FakeClock) -> None:
    observer = RecordingObserver()
    manager = QueueManager(MemoryStorage(), clock=clock, options=FAST_REAPER, observer=observer)
    await manager.start()
    await manager.enqueue(QUEUE, job())
    [leased] = await manager.lease(QUEUE, visibility_ms=1000)
    clock.advance(1000)
    await _until_expired(observer)
    assert (await manager.get_job(leased.id)).tries == 1
    await manager.stop()


@pytest.mark.parametrize(
    "error", [StorageUnavailable("database down"), StorageCorrupt("the record of job 7 fails its checksum")]
)
async def test_reaper_loop_survives_a_storage_outage_or_damage(
    clock: FakeClock, caplog: pytest.LogCaptureFixture, error: Exception
) -> None:
    """A damaged record is loud, but must not stop the reaper (and with it the server)."""
    storage = _FailingStorage(error)
    observer = RecordingObserver()
    fatal: list[BaseException] = []
    manager = QueueManager(storage, clock=clock, options=FAST_REAPER, observer=observer, on_fatal=fatal.append)
    await manager.enqueue(QUEUE, job())
    await manager.lease(QUEUE, visibility_ms=1000)
    clock.advance(1000)
    with caplog.at_level(logging.WARNING, logger="rivetq.manager"):
        await manager.start()
        await _until_expired(observer)
    await manager.stop()
    assert fatal == []
    assert str(error) in caplog.text


async def test_reaper_death_is_logged_and_reported(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    boom = RuntimeError("index corrupted")
    died = asyncio.Event()
    fatal: list[BaseException] = []

    def on_fatal(error: BaseException) -> None:
        fatal.append(error)
        died.set()

    manager = QueueManager(_FailingStorage(boom), clock=clock, options=FAST_REAPER, on_fatal=on_fatal)
    with caplog.at_level(logging.ERROR, logger="rivetq.manager"):
        await manager.start()
        await asyncio.wait_for(died.wait(), HANG_GUARD_S)
    await manager.stop()
    assert fatal == [boom]
    assert "lease_reaper" in caplog.text
