"""Schedules kept in a dict: the memory backend's, and the rule every backend follows for
``advance_schedule``."""

from __future__ import annotations

import msgspec

from rivetq.models import Schedule

__all__ = ["ScheduleBook", "advanced"]


def advanced(
    current: Schedule | None, *, due_ms: int, next_run_at_ms: int, last_run_at_ms: int, fired: int
) -> Schedule | None:
    """``current`` with the runs recorded, or None when it moved since ``due_ms`` was read."""
    if current is None or current.next_run_at_ms != due_ms:
        return None
    return msgspec.structs.replace(
        current, next_run_at_ms=next_run_at_ms, last_run_at_ms=last_run_at_ms, runs_total=current.runs_total + fired
    )


class ScheduleBook:
    def __init__(self) -> None:
        self._schedules: dict[str, Schedule] = {}

    async def put_schedule(self, schedule: Schedule) -> None:
        self._schedules[schedule.name] = schedule

    async def get_schedule(self, name: str) -> Schedule | None:
        return self._schedules.get(name)

    async def list_schedules(self) -> list[Schedule]:
        return [self._schedules[name] for name in sorted(self._schedules)]

    async def delete_schedule(self, name: str) -> bool:
        return self._schedules.pop(name, None) is not None

    async def advance_schedule(
        self, name: str, *, due_ms: int, next_run_at_ms: int, last_run_at_ms: int, fired: int
    ) -> bool:
        moved = advanced(
            self._schedules.get(name),
            due_ms=due_ms,
            next_run_at_ms=next_run_at_ms,
            last_run_at_ms=last_run_at_ms,
            fired=fired,
        )
        if moved is not None:
            self._schedules[name] = moved
        return moved is not None
