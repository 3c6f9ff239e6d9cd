"""When a schedule's ticks fall: cron expressions (with cronsim, in the schedule's IANA
time zone, DST as cron handles it) or fixed intervals from the schedule's creation."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from rivetq.errors import InvalidArgument
from rivetq.models import Schedule

__all__ = ["check_cron", "check_timezone", "last_tick_ms", "next_tick_ms"]

# cron's names for common expressions (cronsim takes the five fields only)
_NAMED = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def check_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidArgument(f"timezone {name!r} is not an IANA time zone name", field="timezone") from None


def check_cron(expression: str, timezone: str) -> None:
    fields = _NAMED.get(expression.strip().lower(), expression)
    if len(fields.split()) != 5:  # cronsim also takes a sixth field (seconds, Quartz-style): every second
        raise InvalidArgument(
            f"cron {expression!r}: give 5 fields (minute hour day-of-month month day-of-week) or a name such as @daily",
            field="cron",
        )
    try:
        CronSim(fields, datetime.now(check_timezone(timezone)))
    except CronSimError as error:
        raise InvalidArgument(f"cron {expression!r}: {error}", field="cron") from None


def next_tick_ms(schedule: Schedule, after_ms: int) -> int:
    """The first tick strictly after ``after_ms``."""
    if schedule.interval_ms is not None:
        elapsed = after_ms - schedule.created_at_ms
        return schedule.created_at_ms + (elapsed // schedule.interval_ms + 1) * schedule.interval_ms
    assert schedule.cron is not None
    zone = ZoneInfo(schedule.timezone)
    # cron ticks are whole minutes: start from the second after, so a tick at after_ms is not repeated
    start = datetime.fromtimestamp(after_ms // 1000, UTC).astimezone(zone)
    tick = next(CronSim(_NAMED.get(schedule.cron.strip().lower(), schedule.cron), start))
    return int(tick.timestamp() * 1000)


def last_tick_ms(schedule: Schedule, at_or_before_ms: int) -> int:
    """The latest tick at or before ``at_or_before_ms`` (for a ``skip`` catch-up)."""
    if schedule.interval_ms is not None:
        elapsed = at_or_before_ms - schedule.created_at_ms
        return schedule.created_at_ms + (elapsed // schedule.interval_ms) * schedule.interval_ms
    assert schedule.cron is not None
    zone = ZoneInfo(schedule.timezone)
    start = datetime.fromtimestamp(at_or_before_ms // 1000 + 1, UTC).astimezone(zone)
    tick = next(CronSim(_NAMED.get(schedule.cron.strip().lower(), schedule.cron), start, reverse=True))
    return int(tick.timestamp() * 1000)
