"""rivetq-bench's job counters against a real server: concurrent workers share one
``Recorder``, so every completed call must be counted exactly once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rivetq.bench.api import Api
from rivetq.bench.scenarios import LoopOptions, run_closed_loop, run_k6
from tests.e2e.server import start_server


def _ok(result: dict[str, Any], operation: str) -> int:
    return int(result[operation]["ok"])


async def test_closed_loop_counts_every_job_of_concurrent_workers(tmp_path: Path) -> None:
    with start_server(tmp_path, "--storage-backend", "memory", grpc=False) as server:
        async with Api(server.url, connections=8) as api:
            result = await run_closed_loop(api, LoopOptions("counts", 1.0, producers=4, consumers=4))
    assert _ok(result, "enqueue") > 0
    assert result["jobs_enqueued"] == _ok(result, "enqueue")
    assert result["jobs_acked"] == _ok(result, "ack")


async def test_k6_counts_every_job_of_concurrent_virtual_users(tmp_path: Path) -> None:
    with start_server(tmp_path, "--storage-backend", "memory", grpc=False) as server:
        async with Api(server.url, connections=8) as api:
            result = await run_k6(api, "counts", time_scale=0.01)
    assert _ok(result, "enqueue") > 0
    assert result["jobs_enqueued"] == _ok(result, "enqueue")
    assert result["jobs_acked"] == _ok(result, "ack")
