"""Schedules with a fake clock: cron in a time zone, intervals, catch-up policies, exactly
one job per tick across retries, pause/resume, run now."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import pytest

from rivetq import wire
from rivetq.clock import FakeClock
from rivetq.errors import InvalidArgument, ScheduleNotFound, StateConflict
from rivetq.manager import QueueManager
from rivetq.models import Job, Schedule
from rivetq.storage.memory import MemoryStorage
from tests.manager.support import RecordingObserver

HOUR_MS = 3_600_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def body(**fields: object) -> wire.ScheduleBody:
    defaults: dict[str, object] = {"queue": "reports", "payload": msgspec.Raw(b'{"report": "daily"}')}
    return wire.ScheduleBody(**{**defaults, **fields})  # type: ignore[arg-type]


async def _jobs(manager: QueueManager, queue: str = "reports") -> list[Job]:
    return (await manager.list_jobs(queue, state=None, limit=1000, cursor=None)).jobs


def _ticks(jobs: Sequence[Job]) -> list[str]:
    return [(job.headers or {})["rivetq-schedule-tick"] for job in jobs]


@pytest.fixture
def at_t0(clock: FakeClock) -> FakeClock:
    clock.set(T0)
    return clock


async def test_cron_schedule_fires_once_per_tick_in_its_time_zone(manager: QueueManager, at_t0: FakeClock) -> None:
    # 09:00 in New York is 14:00 UTC in winter
    created = await manager.put_schedule("standup", body(cron="0 9 * * *", timezone="America/New_York"))
    assert created.next_run_at_ms == T0 + 14 * HOUR_MS
    assert await manager.fire_due_schedules() == 0
    at_t0.set(T0 + 14 * HOUR_MS)
    assert await manager.fire_due_schedules() == 1
    assert await manager.fire_due_schedules() == 0  # the same tick never fires twice
    [job] = await _jobs(manager)
    assert job.headers == {"rivetq-schedule": "standup", "rivetq-schedule-tick": "2026-01-01T14:00:00.000Z"}
    assert (job.payload, job.priority) == (b'{"report": "daily"}', 5)
    found = await manager.get_schedule("standup")
    assert (found.runs_total, found.last_run_at_ms, found.next_run_at_ms) == (1, T0 + 14 * HOUR_MS, T0 + 38 * HOUR_MS)


async def test_named_cron_expressions_work(manager: QueueManager, at_t0: FakeClock) -> None:
    assert (await manager.put_schedule("h", body(cron="@hourly"))).next_run_at_ms == T0 + HOUR_MS


async def test_dst_gap_runs_as_cron_does(manager: QueueManager, clock: FakeClock) -> None:
    """Europe/Berlin skips 02:00-03:00 on 2026-03-29: a 02:30 job runs at 03:00 that day."""
    clock.set(1_774_692_000_000)  # 2026-03-28T10:00:00Z
    schedule = await manager.put_schedule("gap", body(cron="30 2 * * *", timezone="Europe/Berlin"))
    assert schedule.next_run_at_ms == 1_774_746_000_000  # 2026-03-29T01:00:00Z = 03:00 CEST


async def test_interval_schedule_with_skip_fires_one_catch_up_run(manager: QueueManager, at_t0: FakeClock) -> None:
    await manager.put_schedule("tick", body(interval_ms=60_000, headers={"team": "data"}))
    at_t0.advance(10 * 60_000 + 5)  # ten ticks missed
    assert await manager.fire_due_schedules() == 1
    [job] = await _jobs(manager)
    assert job.headers is not None and job.headers["team"] == "data"
    assert _ticks([job]) == ["2026-01-01T00:10:00.000Z"]  # the latest tick
    assert (await manager.get_schedule("tick")).next_run_at_ms == T0 + 11 * 60_000


async def test_interval_schedule_with_all_fires_every_missed_tick_up_to_the_bound(
    manager: QueueManager, at_t0: FakeClock
) -> None:
    await manager.put_schedule("tick", body(interval_ms=60_000, catchup="all"))
    at_t0.advance(3 * 60_000)
    assert await manager.fire_due_schedules() == 3
    assert _ticks(await _jobs(manager)) == [f"2026-01-01T00:0{m}:00.000Z" for m in (1, 2, 3)]
    at_t0.advance(500 * 60_000)
    assert await manager.fire_due_schedules() == 100
    # the newest 100 of the 500 missed ticks (00:04 to 08:23) run: 06:44 to 08:23
    late = _ticks(await _jobs(manager))[3:]
    assert (late[0], late[-1], len(set(late))) == ("2026-01-01T06:44:00.000Z", "2026-01-01T08:23:00.000Z", 100)
    assert (await manager.get_schedule("tick")).next_run_at_ms == T0 + 504 * 60_000


async def test_cron_schedule_with_all_runs_the_newest_missed_ticks(manager: QueueManager, at_t0: FakeClock) -> None:
    await manager.put_schedule("m", body(cron="*/5 * * * *", catchup="all"))
    at_t0.advance(12 * HOUR_MS + 1)  # 144 ticks missed, 00:05 to 12:00
    assert await manager.fire_due_schedules() == 100
    ticks = _ticks(await _jobs(manager))
    assert (ticks[0], ticks[-1]) == ("2026-01-01T03:45:00.000Z", "2026-01-01T12:00:00.000Z")
    assert (await manager.get_schedule("m")).next_run_at_ms == T0 + 12 * HOUR_MS + 5 * 60_000


class _FailingAdvance(MemoryStorage):
    """With ``fail`` set, dies once between enqueueing a tick's job and recording it, as
    a crash would."""

    fail = False

    async def advance_schedule(
        self, name: str, *, due_ms: int, next_run_at_ms: int, last_run_at_ms: int, fired: int
    ) -> bool:
        if self.fail:
            self.fail = False
            raise RuntimeError("crash")
        return await super().advance_schedule(
            name, due_ms=due_ms, next_run_at_ms=next_run_at_ms, last_run_at_ms=last_run_at_ms, fired=fired
        )


@pytest.fixture
def storage() -> MemoryStorage:
    return _FailingAdvance()


async def test_a_tick_retried_after_a_crash_creates_no_second_job(
    manager: QueueManager, storage: _FailingAdvance, at_t0: FakeClock
) -> None:
    await manager.put_schedule("once", body(interval_ms=60_000))
    storage.fail = True
    at_t0.advance(60_000)
    with pytest.raises(RuntimeError):
        await manager.fire_due_schedules()
    assert await manager.fire_due_schedules() == 1  # fired again, recorded this time
    assert len(await _jobs(manager)) == 1  # the idempotency key kept it to one job


async def test_pause_skips_ticks_and_resume_starts_from_now(
    manager: QueueManager, at_t0: FakeClock, observer: RecordingObserver
) -> None:
    await manager.put_schedule("p", body(interval_ms=60_000))
    await manager.pause_schedule("p")
    at_t0.advance(5 * 60_000)
    assert await manager.fire_due_schedules() == 0
    resumed = await manager.resume_schedule("p")
    assert resumed.next_run_at_ms == T0 + 6 * 60_000
    at_t0.advance(60_000)
    assert await manager.fire_due_schedules() == 1
    assert observer.counts[("schedule_fired", "p")] == 1


async def test_run_now_enqueues_without_moving_the_next_run(manager: QueueManager, at_t0: FakeClock) -> None:
    schedule = await manager.put_schedule("manual", body(cron="@daily"))
    result = await manager.run_schedule("manual")
    assert (await manager.get_job(result.job_id)).queue == "reports"
    assert (await manager.get_schedule("manual")).next_run_at_ms == schedule.next_run_at_ms


async def test_list_and_delete(manager: QueueManager, at_t0: FakeClock) -> None:
    await manager.put_schedule("b", body(interval_ms=1000))
    await manager.put_schedule("a", body(cron="@daily"))
    assert [s.name for s in await manager.list_schedules()] == ["a", "b"]
    await manager.delete_schedule("a")
    with pytest.raises(ScheduleNotFound):
        await manager.get_schedule("a")
    with pytest.raises(ScheduleNotFound):
        await manager.delete_schedule("a")


@pytest.mark.parametrize(
    ("name", "fields", "field"),
    [
        ("x", {"cron": "61 * * * *"}, "cron"),
        ("x", {"cron": "* * * * * *"}, "cron"),  # seconds first (Quartz) would fire every second
        ("x", {"cron": "0 0 * *"}, "cron"),
        ("x", {}, "cron"),
        ("x", {"cron": "@daily", "interval_ms": 1000}, "cron"),
        ("x", {"cron": "@daily", "timezone": "Mars/Olympus"}, "timezone"),
        ("x", {"interval_ms": 10}, "interval_ms"),
        ("no spaces", {"cron": "@daily"}, "name"),
        ("x", {"cron": "@daily", "queue": "bad queue"}, "queue"),
        ("x", {"cron": "@daily", "payload": msgspec.Raw(b"{oops")}, "payload"),
        ("x", {"cron": "@daily", "headers": {"": "v"}}, "headers"),
        ("x", {"cron": "@daily", "headers": {f"h{n}": "v" for n in range(63)}}, "headers"),  # 2 are added
        ("x", {"cron": "@daily", "headers": {"a": "v" * 8191, "b": "v" * 8191}}, "headers"),
    ],
)
async def test_a_bad_schedule_names_the_field(
    manager: QueueManager, name: str, fields: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await manager.put_schedule(name, body(**fields))
    assert caught.value.field == field
    assert await manager.list_schedules() == []


async def test_a_schedule_takes_headers_up_to_the_room_its_own_two_leave(manager: QueueManager) -> None:
    with pytest.raises(InvalidArgument, match=r"at most 62 \(rivetq-schedule and rivetq-schedule-tick are added"):
        await manager.put_schedule("x", body(cron="@daily", headers={f"h{n}": "v" for n in range(63)}))
    most = {f"h{n}": "v" for n in range(62)}
    assert (await manager.put_schedule("x", body(cron="@daily", headers=most))).headers == most
    room = 16_384 - len("rivetq-schedule") - len("y") - len("rivetq-schedule-tick") - 24
    full = {"a": "v" * 8000, "b": "v" * 8000, "c": "v" * (room - 3 - 16_000)}
    assert (await manager.put_schedule("y", body(cron="@daily", headers=full))).headers == full
    with pytest.raises(InvalidArgument, match=f"may total {room} bytes"):
        await manager.put_schedule("y", body(cron="@daily", headers={**full, "d": ""}))


def test_schedule_model_round_trips_through_msgpack() -> None:
    schedule = Schedule(name="a", queue="q", payload=b"1", cron="@daily", headers={"k": "v"})
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(schedule), type=Schedule) == schedule


async def test_deleting_a_queue_a_schedule_enqueues_into_needs_force(manager: QueueManager, at_t0: FakeClock) -> None:
    await manager.put_schedule("feeds", body(interval_ms=60_000))
    await manager.run_schedule("feeds")  # the queue exists now
    with pytest.raises(StateConflict, match="feeds"):
        await manager.delete_queue("reports")
    assert await manager.delete_queue("reports", force=True) == 1
    assert await manager.list_schedules() == []
