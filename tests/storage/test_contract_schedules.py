"""Storage contract: schedules are kept whole, listed by name, replaced, deleted, and
their progress moves only by compare-and-set. Runs once per backend."""

from __future__ import annotations

from rivetq.models import Schedule
from rivetq.storage.base import Storage
from tests.storage.contract_support import T0
from tests.storage.factories import BackendFactory

NIGHTLY = Schedule(
    name="nightly",
    queue="reports",
    payload=b'{"report": "daily"}',
    cron="30 2 * * *",
    timezone="Europe/Berlin",
    priority=7,
    max_retries=1,
    headers={"team": "data"},
    catchup="all",
    created_at_ms=T0,
    next_run_at_ms=T0 + 60_000,
)


async def test_a_schedule_is_kept_whole_and_listed_by_name(storage: Storage) -> None:
    every_minute = Schedule(name="a-minutely", queue="q", payload=b"1", interval_ms=60_000, next_run_at_ms=T0)
    await storage.put_schedule(NIGHTLY)
    await storage.put_schedule(every_minute)
    assert await storage.get_schedule("nightly") == NIGHTLY
    assert await storage.list_schedules() == [every_minute, NIGHTLY]
    assert await storage.get_schedule("never") is None


async def test_put_replaces_and_delete_removes(storage: Storage) -> None:
    await storage.put_schedule(NIGHTLY)
    replaced = Schedule(name="nightly", queue="other", payload=b"2", interval_ms=1000, next_run_at_ms=T0)
    await storage.put_schedule(replaced)
    assert await storage.get_schedule("nightly") == replaced
    assert await storage.delete_schedule("nightly") is True
    assert await storage.delete_schedule("nightly") is False
    assert await storage.list_schedules() == []


async def test_advance_moves_only_from_the_tick_read(storage: Storage) -> None:
    await storage.put_schedule(NIGHTLY)
    due = NIGHTLY.next_run_at_ms
    assert await storage.advance_schedule("nightly", due_ms=due, next_run_at_ms=due + 1000, last_run_at_ms=due, fired=1)
    assert not await storage.advance_schedule(
        "nightly", due_ms=due, next_run_at_ms=due + 2000, last_run_at_ms=due, fired=1
    )  # a second node recording the same tick changes nothing
    assert not await storage.advance_schedule("gone", due_ms=due, next_run_at_ms=due, last_run_at_ms=due, fired=1)
    found = await storage.get_schedule("nightly")
    assert found is not None
    assert (found.next_run_at_ms, found.last_run_at_ms, found.runs_total) == (due + 1000, due, 1)


async def test_schedules_survive_a_reopen(storage_factory: BackendFactory, storage: Storage) -> None:
    await storage.put_schedule(NIGHTLY)
    due = NIGHTLY.next_run_at_ms
    await storage.advance_schedule("nightly", due_ms=due, next_run_at_ms=due + 1000, last_run_at_ms=due, fired=3)
    reopened = await storage_factory.reopen(storage)
    if storage_factory.durable:
        found = await reopened.get_schedule("nightly")
        assert found is not None and (found.runs_total, found.headers) == (3, {"team": "data"})
