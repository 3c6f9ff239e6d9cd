"""Schedule routes: create-or-replace by name, read, list with next run times, delete,
pause/resume, run now."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from rivetq import wire
from rivetq.models import Schedule
from rivetq.server.rest.bodies import BodyLimits, check_empty_body, decode_body
from rivetq.server.rest.operations import Operation
from rivetq.server.rest.views import json_response, rfc3339_ms
from rivetq.service import QueueService

__all__ = ["ScheduleEndpoints", "schedule_view"]

_BODY = msgspec.json.Decoder(wire.ScheduleBody)
_SUCCESS = wire.SuccessResponse()


def schedule_view(schedule: Schedule) -> wire.ScheduleView:
    return wire.ScheduleView(
        name=schedule.name,
        queue=schedule.queue,
        cron=schedule.cron,
        interval_ms=schedule.interval_ms,
        timezone=schedule.timezone,
        payload=msgspec.Raw(schedule.payload),
        priority=schedule.priority,
        max_retries=schedule.max_retries,
        headers=schedule.headers or {},
        catchup=schedule.catchup,
        paused=schedule.paused,
        created_at=rfc3339_ms(schedule.created_at_ms),
        next_run_at=rfc3339_ms(schedule.next_run_at_ms),
        last_run_at=None if schedule.last_run_at_ms is None else rfc3339_ms(schedule.last_run_at_ms),
        runs_total=schedule.runs_total,
    )


class ScheduleEndpoints:
    def __init__(self, manager: QueueService, limits: BodyLimits) -> None:
        self._manager = manager
        self._limits = limits

    async def list_schedules(self, request: Request) -> Response:
        schedules = await self._manager.list_schedules()
        return json_response(wire.ScheduleListResponse(schedules=[schedule_view(s) for s in schedules]))

    async def put_schedule(self, request: Request) -> Response:
        body = await decode_body(request, _BODY, self._limits.single)
        return json_response(schedule_view(await self._manager.put_schedule(request.path_params["name"], body)))

    async def get_schedule(self, request: Request) -> Response:
        return json_response(schedule_view(await self._manager.get_schedule(request.path_params["name"])))

    async def delete_schedule(self, request: Request) -> Response:
        await self._manager.delete_schedule(request.path_params["name"])
        return json_response(_SUCCESS)

    async def pause_schedule(self, request: Request) -> Response:
        await check_empty_body(request, self._limits)
        return json_response(schedule_view(await self._manager.pause_schedule(request.path_params["name"])))

    async def resume_schedule(self, request: Request) -> Response:
        await check_empty_body(request, self._limits)
        return json_response(schedule_view(await self._manager.resume_schedule(request.path_params["name"])))

    async def run_schedule(self, request: Request) -> Response:
        await check_empty_body(request, self._limits)
        result = await self._manager.run_schedule(request.path_params["name"])
        return json_response(wire.EnqueueResponse(job_id=result.job_id), status=201)

    def operations(self) -> list[Operation]:
        one = "/v1/schedules/{name}"
        view = wire.ScheduleView
        return [
            Operation("GET", "/v1/schedules", self.list_schedules, "List schedules with their next run times",
                      "schedules", response=wire.ScheduleListResponse),
            Operation("PUT", one, self.put_schedule, "Create or replace a schedule (cron or interval)", "schedules",
                      response=view, body=wire.ScheduleBody),
            Operation("GET", one, self.get_schedule, "Read a schedule", "schedules", response=view),
            Operation("DELETE", one, self.delete_schedule, "Delete a schedule", "schedules",
                      response=wire.SuccessResponse),
            Operation("POST", f"{one}/pause", self.pause_schedule, "Pause a schedule (its ticks are skipped)",
                      "schedules", response=view, body=wire.EmptyRequest),
            Operation("POST", f"{one}/resume", self.resume_schedule, "Resume a schedule from its next tick",
                      "schedules", response=view, body=wire.EmptyRequest),
            Operation("POST", f"{one}/run", self.run_schedule, "Enqueue a schedule's job now", "schedules",
                      response=wire.EnqueueResponse, status=201, body=wire.EmptyRequest),
        ]  # fmt: skip
