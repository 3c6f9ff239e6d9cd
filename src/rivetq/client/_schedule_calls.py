"""The schedule calls of ``Client`` and ``AsyncClient`` (see ``_calls`` for the others)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from rivetq import wire
from rivetq.client._base import Call, path_segment
from rivetq.client.models import JobSpec, Schedule, payload_json

__all__ = [
    "delete_schedule",
    "get_schedule",
    "list_schedules",
    "pause_schedule",
    "put_schedule",
    "resume_schedule",
    "run_schedule",
]

_ENCODER = msgspec.json.Encoder()
_SCHEDULE = msgspec.json.Decoder(Schedule)


class _Schedules(msgspec.Struct):
    schedules: list[Schedule]


_SCHEDULES = msgspec.json.Decoder(_Schedules)
_ENQUEUED = msgspec.json.Decoder(wire.EnqueueResponse)


def _path(name: str, suffix: str = "") -> str:
    return f"/v1/schedules/{path_segment(name, 'name')}{suffix}"


def put_schedule(
    name: str,
    queue: str,
    payload: Any,
    *,
    cron: str | None = None,
    interval_ms: int | None = None,
    timezone: str = "UTC",
    priority: int = 5,
    max_retries: int = 3,
    headers: dict[str, str] | None = None,
    catchup: Literal["skip", "all"] = "skip",
    paused: bool = False,
) -> Call[Schedule]:
    """Create or replace the schedule ``name``: a job on ``queue`` at each tick of ``cron``
    (5 fields or ``@daily``-style, in ``timezone``) or every ``interval_ms``."""
    body = wire.ScheduleBody(
        queue=queue,
        payload=msgspec.Raw(payload_json(JobSpec(payload=payload))),
        cron=cron,
        interval_ms=interval_ms,
        timezone=timezone,
        priority=priority,
        max_retries=max_retries,
        headers=headers,
        catchup=catchup,
        paused=paused,
    )
    return Call("PUT", _path(name), _SCHEDULE.decode, body=_ENCODER.encode(body), retry_safe=True)


def get_schedule(name: str) -> Call[Schedule]:
    """The schedule with its next run time (``ScheduleNotFound`` if there is none)."""
    return Call("GET", _path(name), _SCHEDULE.decode, retry_safe=True)


def list_schedules() -> Call[list[Schedule]]:
    """Every schedule, by name, with its next run time."""
    return Call("GET", "/v1/schedules", lambda body: _SCHEDULES.decode(body).schedules, retry_safe=True)


def delete_schedule(name: str) -> Call[None]:
    return Call("DELETE", _path(name), lambda _: None)


def pause_schedule(name: str) -> Call[Schedule]:
    """Its ticks are skipped until resumed."""
    return Call("POST", _path(name, "/pause"), _SCHEDULE.decode, body=b"{}", retry_safe=True)


def resume_schedule(name: str) -> Call[Schedule]:
    """It runs again from its next tick (the ticks missed while paused are not run)."""
    return Call("POST", _path(name, "/resume"), _SCHEDULE.decode, body=b"{}", retry_safe=True)


def run_schedule(name: str) -> Call[str]:
    """Enqueue the schedule's job now; returns the job's id (its next run stays as it is)."""
    return Call("POST", _path(name, "/run"), lambda body: _ENQUEUED.decode(body).job_id, body=b"{}")
