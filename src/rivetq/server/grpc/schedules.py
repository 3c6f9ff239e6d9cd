"""Schedules between protobuf messages and RivetQ's models and wire shapes."""

from __future__ import annotations

from typing import Any, cast

import msgspec

from rivetq import wire
from rivetq.models import DEFAULT_MAX_RETRIES, DEFAULT_PRIORITY, Schedule
from rivetq.server.grpc._pb import rivetq_pb2 as pb
from rivetq.server.grpc.convert import optional

__all__ = ["schedule_body", "schedule_message"]


def schedule_body(message: pb.PutScheduleRequest) -> wire.ScheduleBody:
    """The REST shape of a schedule; the manager checks every field (an empty ``timezone``
    or ``catchup`` that was set is refused as over REST, not taken for the default)."""
    return wire.ScheduleBody(
        queue=message.queue,
        payload=msgspec.Raw(message.payload),
        cron=optional(message, "cron"),
        interval_ms=optional(message, "interval_ms"),
        timezone=_given(message, "timezone", "UTC"),
        priority=_given(message, "priority", DEFAULT_PRIORITY),
        max_retries=_given(message, "max_retries", DEFAULT_MAX_RETRIES),
        headers=dict(message.headers) or None,
        catchup=cast(wire.CatchUp, _given(message, "catchup", "skip")),
        paused=message.paused,
    )


def _given(message: pb.PutScheduleRequest, field: str, default: object) -> Any:
    value = optional(message, field)
    return default if value is None else value


def schedule_message(schedule: Schedule) -> pb.Schedule:
    return pb.Schedule(
        name=schedule.name,
        queue=schedule.queue,
        cron=schedule.cron,
        interval_ms=schedule.interval_ms,
        timezone=schedule.timezone,
        payload=schedule.payload,
        priority=schedule.priority,
        max_retries=schedule.max_retries,
        headers=schedule.headers,
        catchup=schedule.catchup,
        paused=schedule.paused,
        created_at_ms=schedule.created_at_ms,
        next_run_at_ms=schedule.next_run_at_ms,
        last_run_at_ms=schedule.last_run_at_ms,
        runs_total=schedule.runs_total,
    )
