"""The few REST calls the load generator makes, over one keep-alive aiohttp session."""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp
import orjson

from rivetq.bench.recorder import OpStats

__all__ = ["Api", "LeasedJob"]


@dataclass(frozen=True)
class LeasedJob:
    job_id: str
    lease_id: str
    enqueued_at: float | None  # the producer's time.time(), carried in the payload


class Api:
    """Times every call into an ``OpStats``; a non-2xx reply or a connection error is a
    failure recorded under its status or exception name, never raised."""

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

    async def _post(self, path: str, body: dict[str, Any], stats: OpStats) -> Any:
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
        stats.record(elapsed)
        return orjson.loads(data)

    async def enqueue(self, queue: str, payloads: list[dict[str, Any]], priority: int, stats: OpStats) -> int:
        """Enqueue one job (the seed's call) or a batch; returns how many were created."""
        if len(payloads) == 1:
            body = {"payload": payloads[0], "priority": priority, "max_retries": 3}
            reply = await self._post(f"/v1/queues/{queue}/enqueue", body, stats)
            return 0 if reply is None else 1
        jobs = [{"payload": p, "priority": priority, "max_retries": 3} for p in payloads]
        reply = await self._post(f"/v1/queues/{queue}/enqueue_batch", {"jobs": jobs}, stats)
        return 0 if reply is None else len(reply["job_ids"])

    async def lease(
        self, queue: str, *, max_jobs: int, visibility_ms: int, wait_ms: int, stats: OpStats
    ) -> list[LeasedJob]:
        body = {"max_jobs": max_jobs, "visibility_ms": visibility_ms, "wait_ms": wait_ms}
        reply = await self._post(f"/v1/queues/{queue}/lease", body, stats)
        if reply is None:
            return []
        return [
            LeasedJob(job["id"], job["lease_id"], job["payload"].get("t") if isinstance(job["payload"], dict) else None)
            for job in reply["jobs"]
        ]

    async def ack(self, jobs: list[LeasedJob], stats: OpStats) -> int:
        """Ack one job (the seed's call) or a batch with ``ack_batch``; returns acks that succeeded."""
        if len(jobs) == 1:
            reply = await self._post("/v1/ack", {"job_id": jobs[0].job_id, "lease_id": jobs[0].lease_id}, stats)
            return 0 if reply is None else 1
        acks = [{"job_id": j.job_id, "lease_id": j.lease_id} for j in jobs]
        reply = await self._post("/v1/ack_batch", {"acks": acks}, stats)
        return 0 if reply is None else sum(1 for r in reply["results"] if r["ok"])
