"""Schedules on a real rivetqd (embedded engine, fsync on): the scheduler fires each tick
once, and after a SIGKILL and a restart the missed ticks are run (catchup all) without any
tick run twice."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from datetime import datetime

import httpx
import pytest

from tests.e2e.server import ServerFactory

pytestmark = pytest.mark.slow

INTERVAL_MS = 1000
WAIT_S = 30.0


def _ticks(client: httpx.Client) -> list[str]:
    jobs = client.get("/v1/queues/ticks/jobs", params={"limit": 1000}).json()["jobs"]
    return [job["headers"]["rivetq-schedule-tick"] for job in jobs]


def _until_ticks(client: httpx.Client, count: int) -> list[str]:
    deadline = time.monotonic() + WAIT_S
    while len(ticks := _ticks(client)) < count:
        assert time.monotonic() < deadline, f"{len(ticks)} ticks fired, waited for {count}"
        time.sleep(0.1)
    return ticks


def test_ticks_fire_once_each_across_a_sigkill_and_restart(servers: ServerFactory) -> None:
    server = servers.start(grpc=False)
    body = {"queue": "ticks", "interval_ms": INTERVAL_MS, "payload": {"n": 1}, "catchup": "all"}
    with server.client() as client:
        assert client.put("/v1/schedules/heartbeat", json=body).status_code == 200
        _until_ticks(client, 2)
    server.kill()  # SIGKILL, maybe between a tick's enqueue and its record
    server.process.wait(20)
    time.sleep(2 * INTERVAL_MS / 1000)  # ticks missed while down
    restarted = servers.start(data_dir=server.data_dir, grpc=False)
    with restarted.client() as client:
        ticks = _until_ticks(client, 6)
        schedule = client.get("/v1/schedules/heartbeat").json()
    assert max(Counter(ticks).values()) == 1, f"a tick ran twice: {ticks}"
    moments = sorted(datetime.fromisoformat(tick.replace("Z", "+00:00")) for tick in ticks)
    gaps = {round((later - earlier).total_seconds() * 1000) for earlier, later in itertools.pairwise(moments)}
    assert gaps == {INTERVAL_MS}, f"a tick was skipped: {ticks}"
    assert schedule["runs_total"] >= len(ticks) - 1  # the last may be enqueued, not yet recorded
