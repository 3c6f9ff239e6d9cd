"""Queue routes: list, stats, job browser, pause/resume and purge."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from rivetq import wire
from rivetq.server.rest.bodies import BodyLimits, check_empty_body
from rivetq.server.rest.operations import Operation
from rivetq.server.rest.params import CURSOR, LIMIT, STATE, cursor_param, limit_param, state_param
from rivetq.server.rest.views import job_list, json_response, queue_stats, queue_summary
from rivetq.service import QueueService

__all__ = ["QueueEndpoints"]

_SUCCESS = wire.SuccessResponse()


class QueueEndpoints:
    def __init__(self, manager: QueueService, limits: BodyLimits) -> None:
        self._manager = manager
        self._limits = limits

    async def list_queues(self, request: Request) -> Response:
        queues = await self._manager.list_queues()
        names = [stats.queue for stats in queues]
        return json_response(wire.QueueListResponse(queues=names, summaries=[queue_summary(s) for s in queues]))

    async def stats(self, request: Request) -> Response:
        return json_response(queue_stats(await self._manager.stats(request.path_params["queue"])))

    async def list_jobs(self, request: Request) -> Response:
        page = await self._manager.list_jobs(
            request.path_params["queue"],
            state=state_param(request),
            limit=limit_param(request),
            cursor=cursor_param(request),
        )
        return json_response(job_list(page, self._manager.now_ms()))

    async def pause(self, request: Request) -> Response:
        await check_empty_body(request, self._limits)
        await self._manager.pause(request.path_params["queue"])
        return json_response(_SUCCESS)

    async def resume(self, request: Request) -> Response:
        await check_empty_body(request, self._limits)
        await self._manager.resume(request.path_params["queue"])
        return json_response(_SUCCESS)

    async def purge_queue(self, request: Request) -> Response:
        purged = await self._manager.purge(request.path_params["queue"])
        return json_response(wire.PurgedResponse(purged=purged))

    def operations(self) -> list[Operation]:
        queue = "/v1/queues/{queue}"
        return [
            Operation("GET", "/v1/queues", self.list_queues, "List queue names, and each queue's counts", "queues",
                      response=wire.QueueListResponse, also_paths=("/v1/queues/",)),
            Operation("GET", f"{queue}/stats", self.stats, "Counts, counters and config of a queue", "queues",
                      response=wire.QueueStatsResponse),
            Operation("GET", f"{queue}/jobs", self.list_jobs, "Browse a queue's jobs", "queues",
                      response=wire.JobListResponse, query=(STATE, LIMIT, CURSOR)),
            Operation("POST", f"{queue}/pause", self.pause, "Pause leasing from a queue", "queues",
                      response=wire.SuccessResponse, body=wire.EmptyRequest),
            Operation("POST", f"{queue}/resume", self.resume, "Resume leasing from a queue", "queues",
                      response=wire.SuccessResponse, body=wire.EmptyRequest),
            Operation("DELETE", queue, self.purge_queue, "Purge every job of a queue", "queues",
                      response=wire.PurgedResponse),
        ]  # fmt: skip
