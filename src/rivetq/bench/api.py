"""The seed's REST calls (and their batch forms) over one keep-alive aiohttp session."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

import aiohttp
import orjson

from rivetq.bench.recorder import OpStats
from rivetq.bench.transport import PROBE_TIMEOUT_S, LeasedJob, enqueued_at

__all__ = ["Api", "LeasedJob"]

_COUNTS = ("ready", "delayed", "inflight", "dlq")


class Api:
    """Times every call into an ``OpStats``; a non-2xx reply, a reply that is not the
    documented shape, or a connection error is a failure recorded under its status or
    exception name, never raised."""

    def __init__(self, base_url: str, *, connections: int, token: str | None = None) -> None:
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self._base = base_url.rstrip("/")
        self._session = aiohttp.ClientSession(
            headers=headers,
            connector=aiohttp.TCPConnector(limit=connections),
            timeout=aiohttp.ClientTimeout(total=60),
        )

    async def __aenter__(self) -> Api:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._session.close()

    async def _post(self, path: str, body: dict[str, Any], stats: OpStats, field: str) -> Any:
        """``reply[field]`` of a successful call, else None (the failure recorded)."""
        reply = await self._post_for_reply(path, body, stats, field)
        return None if reply is None else reply[field]

    async def _post_for_reply(self, path: str, body: dict[str, Any], stats: OpStats, field: str) -> Any:
        """The reply of a successful call that holds ``field``, else None (the failure recorded)."""
        started = time.perf_counter()
        try:
            async with self._session.post(self._base + path, data=orjson.dumps(body)) as response:
                data = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            stats.record(time.perf_counter() - started, type(exc).__name__)
            return None
        elapsed = time.perf_counter() - started
        if status >= 300:
            stats.record(elapsed, f"HTTP {status}")
            return None
        try:
            reply = orjson.loads(data)
            reply[field]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            stats.record(elapsed, f"HTTP {status} without '{field}'")
            return None
        stats.record(elapsed)
        return reply

    async def enqueue(self, queue: str, payloads: list[dict[str, Any]], priority: int, stats: OpStats) -> int:
        """Enqueue one job (the seed's call) or a batch; returns how many were created."""
        if len(payloads) == 1:
            body = {"payload": payloads[0], "priority": priority, "max_retries": 3}
            return 0 if await self._post(f"/v1/queues/{queue}/enqueue", body, stats, "job_id") is None else 1
        jobs = [{"payload": p, "priority": priority, "max_retries": 3} for p in payloads]
        job_ids = await self._post(f"/v1/queues/{queue}/enqueue_batch", {"jobs": jobs}, stats, "job_ids")
        return 0 if job_ids is None else len(job_ids)

    async def lease(
        self, queue: str, *, max_jobs: int, visibility_ms: int, wait_ms: int, stats: OpStats
    ) -> list[LeasedJob]:
        body = {"max_jobs": max_jobs, "visibility_ms": visibility_ms, "wait_ms": wait_ms}
        jobs = await self._post(f"/v1/queues/{queue}/lease", body, stats, "jobs")
        return [LeasedJob(job["id"], job["lease_id"], enqueued_at(job["payload"])) for job in jobs or ()]

    async def ack_and_lease(
        self, queue: str, acks: list[LeasedJob], *, max_jobs: int, visibility_ms: int, wait_ms: int, stats: OpStats
    ) -> tuple[int, list[LeasedJob]] | None:
        body: dict[str, Any] = {"max_jobs": max_jobs, "visibility_ms": visibility_ms, "wait_ms": wait_ms}
        body["acks"] = [{"job_id": j.job_id, "lease_id": j.lease_id} for j in acks]
        reply = await self._post_for_reply(f"/v1/queues/{queue}/lease", body, stats, "jobs")
        if reply is None:
            return None
        acked = sum(1 for r in reply.get("acks") or () if r["ok"])
        return acked, [LeasedJob(job["id"], job["lease_id"], enqueued_at(job["payload"])) for job in reply["jobs"]]

    async def ack(self, jobs: list[LeasedJob], stats: OpStats) -> int:
        """Ack one job (the seed's call) or a batch with ``ack_batch``; returns acks that succeeded."""
        if len(jobs) == 1:
            body = {"job_id": jobs[0].job_id, "lease_id": jobs[0].lease_id}
            return 0 if await self._post("/v1/ack", body, stats, "success") is None else 1
        acks = [{"job_id": j.job_id, "lease_id": j.lease_id} for j in jobs]
        results = await self._post("/v1/ack_batch", {"acks": acks}, stats, "results")
        return sum(1 for r in results or () if r["ok"])

    async def queue_counts(self, queue: str) -> dict[str, int] | None:
        try:
            async with self._session.get(f"{self._base}/v1/queues/{queue}/stats") as response:
                if response.status != 200:
                    return None
                stats = orjson.loads(await response.read())
        except (aiohttp.ClientError, TimeoutError):
            return None
        return {name: int(stats[name]) for name in _COUNTS}

    async def unreachable(self) -> str | None:
        """None when ``/healthz`` answers 200, else why not (the URL and the failure)."""
        try:
            timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT_S)
            async with self._session.get(f"{self._base}/healthz", timeout=timeout) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"no RivetQ server answers at {self._base}: {exc or type(exc).__name__}"
        if status != 200:
            return f"{self._base}/healthz answered HTTP {status}: is {self._base} a RivetQ server?"
        return None
