"""Schedules: ``QueueManager``'s base class that defines, fires and reports them.

Each due tick becomes one enqueue whose idempotency key names the schedule and the tick,
so a retry after a crash, or a second node firing the same tick, creates no second job;
the schedule's progress then moves by compare-and-set (``Storage.advance_schedule``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import msgspec

from rivetq import wire
from rivetq.clock import Clock
from rivetq.errors import InvalidArgument, RivetQError, ScheduleNotFound, StorageUnavailable
from rivetq.manager_options import ManagerOptions, Observer
from rivetq.manager_schedule_times import check_cron, check_timezone, last_tick_ms, next_tick_ms
from rivetq.manager_validation import build_jobs, check_int, check_queue, headers_bytes
from rivetq.models import InsertResult, Schedule
from rivetq.storage.base import Storage

__all__ = ["MAX_CATCHUP_RUNS", "SCHEDULE_HEADER", "TICK_HEADER", "ScheduleOps", "check_schedule"]

logger = logging.getLogger("rivetq.manager")

MAX_CATCHUP_RUNS = 100  # ``all``: missed ticks beyond this many are skipped
SCHEDULE_HEADER = "rivetq-schedule"  # every fired job says which schedule and tick it is for
TICK_HEADER = "rivetq-schedule-tick"
_MAX_OWN_HEADERS = wire.MAX_HEADERS - 2
_TICK_TEXT_LENGTH = len("2026-01-01T00:00:00.000Z")
_TWO_ADDED = f"({SCHEDULE_HEADER} and {TICK_HEADER} are added to each job)"
_replace = msgspec.structs.replace


class ScheduleOps:
    _storage: Storage
    _clock: Clock
    _options: ManagerOptions
    _observer: Observer
    _next_due_ms: int | None = None  # the earliest tick due, as of the last pass
    enqueue: Callable[[str, wire.EnqueueRequest], Awaitable[InsertResult]]  # QueueManager's

    async def put_schedule(self, name: str, body: wire.ScheduleBody) -> Schedule:
        """Create or replace the schedule ``name``; it first fires at its next tick from now."""
        now_ms = self._clock.now_ms()
        schedule = check_schedule(name, body, now_ms=now_ms, max_payload_bytes=self._options.max_payload_bytes)
        schedule = _replace(schedule, next_run_at_ms=next_tick_ms(schedule, now_ms))
        await self._storage.put_schedule(schedule)
        return schedule

    async def get_schedule(self, name: str) -> Schedule:
        found = await self._storage.get_schedule(_check_name(name))
        if found is None:
            raise ScheduleNotFound(f"schedule {name} not found")
        return found

    async def list_schedules(self) -> list[Schedule]:
        return await self._storage.list_schedules()

    async def schedules_of(self, queue: str) -> list[Schedule]:
        """The schedules that enqueue into ``queue``."""
        return [schedule for schedule in await self._storage.list_schedules() if schedule.queue == queue]

    async def delete_schedule(self, name: str) -> None:
        if not await self._storage.delete_schedule(_check_name(name)):
            raise ScheduleNotFound(f"schedule {name} not found")

    async def pause_schedule(self, name: str) -> Schedule:
        schedule = _replace(await self.get_schedule(name), paused=True)
        await self._storage.put_schedule(schedule)
        return schedule

    async def resume_schedule(self, name: str) -> Schedule:
        """Ticks that passed while paused are not run: the next run is the next tick from now."""
        current = await self.get_schedule(name)
        schedule = _replace(current, paused=False, next_run_at_ms=next_tick_ms(current, self._clock.now_ms()))
        await self._storage.put_schedule(schedule)
        return schedule

    async def run_schedule(self, name: str) -> InsertResult:
        """Enqueue the schedule's job now, outside its ticks (its next run stays as it is)."""
        schedule = await self.get_schedule(name)
        return await self.enqueue(schedule.queue, _job(schedule, self._clock.now_ms(), key=None))

    async def fire_due_schedules(self) -> int:
        """Enqueue the runs of every schedule due now; returns how many were fired."""
        now_ms = self._clock.now_ms()
        fired = 0
        upcoming: list[int] = []
        for schedule in await self._storage.list_schedules():
            if schedule.paused:
                continue
            if schedule.next_run_at_ms <= now_ms:
                fired += await self._fire_logged(schedule, now_ms)
                upcoming.append(next_tick_ms(schedule, now_ms))
            else:
                upcoming.append(schedule.next_run_at_ms)
        self._next_due_ms = min(upcoming, default=None)
        return fired

    async def run_scheduler(self) -> None:
        """Fire due schedules forever (the supervised ``scheduler`` loop)."""
        while True:
            try:
                await self.fire_due_schedules()
                wait_s = self._idle_s()
            except StorageUnavailable as error:
                logger.warning("scheduler: storage unavailable: %s", error)
                wait_s = self._options.schedule_check_interval_ms / 1000
            await asyncio.sleep(wait_s)

    def _idle_s(self) -> float:
        """Until the next tick due, or the check interval (a schedule may be added on another node)."""
        idle_ms = self._options.schedule_check_interval_ms
        if self._next_due_ms is not None:
            idle_ms = min(max(self._next_due_ms - self._clock.now_ms(), 1), idle_ms)
        return idle_ms / 1000

    async def _fire_logged(self, schedule: Schedule, now_ms: int) -> int:
        try:
            return await self._fire(schedule, now_ms)
        except StorageUnavailable:
            raise
        except RivetQError as error:  # e.g. a payload over a limit lowered since: the others still run
            logger.warning("scheduler: schedule %s not fired: %s", schedule.name, error)
            return 0

    async def _fire(self, schedule: Schedule, now_ms: int) -> int:
        ticks = _due_ticks(schedule, now_ms)
        for tick_ms in ticks:
            await self.enqueue(
                schedule.queue, _job(schedule, tick_ms, key=f"{SCHEDULE_HEADER}:{schedule.name}:{tick_ms}")
            )
        recorded = await self._storage.advance_schedule(
            schedule.name,
            due_ms=schedule.next_run_at_ms,
            next_run_at_ms=next_tick_ms(schedule, now_ms),
            last_run_at_ms=ticks[-1],
            fired=len(ticks),
        )
        if recorded:
            self._observer.schedule_fired(schedule.name, len(ticks), now_ms - ticks[-1])
        return len(ticks) if recorded else 0


def _due_ticks(schedule: Schedule, now_ms: int) -> list[int]:
    """The ticks to run now, oldest first: the latest due one (``skip``), or every due one
    back to ``next_run_at_ms`` but at most the newest ``MAX_CATCHUP_RUNS`` (``all``),
    found walking back from now so a long outage costs no walk over all it missed."""
    latest = max(schedule.next_run_at_ms, last_tick_ms(schedule, now_ms))
    ticks = [latest]
    while schedule.catchup == "all" and len(ticks) < MAX_CATCHUP_RUNS:
        tick = last_tick_ms(schedule, ticks[-1] - 1)
        if tick < schedule.next_run_at_ms:
            break
        ticks.append(tick)
    return ticks[::-1]


def _job(schedule: Schedule, tick_ms: int, key: str | None) -> wire.EnqueueRequest:
    tick = wire.rfc3339_text(datetime.fromtimestamp(tick_ms / 1000, UTC))
    return wire.EnqueueRequest(
        payload=msgspec.Raw(schedule.payload),
        priority=schedule.priority,
        max_retries=schedule.max_retries,
        headers={**(schedule.headers or {}), SCHEDULE_HEADER: schedule.name, TICK_HEADER: tick},
        idempotency_key=key,
    )


def _check_name(name: object) -> str:
    try:
        return check_queue(name)  # the same rule: it is a URL path segment too
    except InvalidArgument:
        raise InvalidArgument(
            "schedule name must match [A-Za-z0-9_.-]{1,128} and not be . or ..", field="name"
        ) from None


def check_schedule(name: str, body: wire.ScheduleBody, *, now_ms: int, max_payload_bytes: int) -> Schedule:
    """The schedule ``body`` defines, every field checked; the job a tick enqueues must pass
    an enqueue's checks too (payload size included)."""
    schedule = _checked(name, body, now_ms)
    _check_room_for_tick_headers(schedule)
    build_jobs([_job(schedule, now_ms, key=None)], now_ms=now_ms, max_payload_bytes=max_payload_bytes, prefix=None)
    return schedule


def _check_room_for_tick_headers(schedule: Schedule) -> None:
    """A fired job carries the schedule's headers and two of its own: say so, instead of
    an enqueue's limits that the user's headers seem to meet."""
    headers = schedule.headers or {}
    if len(headers) > _MAX_OWN_HEADERS:
        message = (
            f"headers: a schedule holds at most {_MAX_OWN_HEADERS} ({SCHEDULE_HEADER} and {TICK_HEADER} are added)"
        )
        raise InvalidArgument(message, field="headers")
    room = wire.MAX_HEADERS_BYTES - len(SCHEDULE_HEADER) - len(schedule.name) - len(TICK_HEADER) - _TICK_TEXT_LENGTH
    if (size := headers_bytes(headers)) > room:
        message = (
            f"headers: a schedule's may total {room} bytes ({SCHEDULE_HEADER} and {TICK_HEADER} are added), not {size}"
        )
        raise InvalidArgument(message, field="headers")


def _checked(name: str, body: wire.ScheduleBody, now_ms: int) -> Schedule:
    if (body.cron is None) == (body.interval_ms is None):
        raise InvalidArgument("give exactly one of cron and interval_ms", field="cron")
    check_timezone(body.timezone)
    if body.cron is not None:
        check_cron(body.cron, body.timezone)
    else:
        check_int(body.interval_ms, "interval_ms", wire.MIN_INTERVAL_MS, wire.MAX_DELAY_MS)
    if body.catchup not in ("skip", "all"):
        raise InvalidArgument("catchup must be skip or all", field="catchup")
    return Schedule(
        name=_check_name(name),
        queue=check_queue(body.queue),
        payload=bytes(body.payload),
        cron=body.cron,
        interval_ms=body.interval_ms,
        timezone=body.timezone,
        priority=body.priority,
        max_retries=body.max_retries,
        headers=body.headers or None,
        catchup=body.catchup,
        paused=body.paused,
        created_at_ms=now_ms,
    )
