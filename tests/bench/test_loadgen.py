"""``bench/loadgen`` (the Go load generator of ``bench/workers.py --load go``) built and
run against a real ``rivetqd``: it enqueues every job once, leases and acks each, and
leaves the queue empty; a server that refuses its calls makes it fail."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.server import free_port, start_server

LOADGEN = Path(__file__).resolve().parents[2] / "bench" / "loadgen"
CACHE = Path(__file__).resolve().parents[2] / "test-artifacts" / "go"


@pytest.fixture(scope="module")
def loadgen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None:
        if os.environ.get("CI") == "true":
            pytest.fail("go (the Go toolchain) is missing")
        pytest.skip("go (the Go toolchain) is missing")
    binary = tmp_path_factory.mktemp("loadgen") / "loadgen"
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOPROXY": "off", "GOCACHE": str(CACHE / "cache")}
    subprocess.run([go, "build", "-o", str(binary), "."], cwd=LOADGEN, env=env, check=True, timeout=300)
    return binary


def test_every_job_is_enqueued_leased_and_acked_once(loadgen: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    with start_server(tmp_path / "server") as server:
        done = subprocess.run(
            [str(loadgen), "-url", server.url, "-clients", "4", "-jobs", "300", "-queue", "lg", "-json-out", str(out)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        with server.client() as client:
            stats = client.get("/v1/queues/lg/stats").json()
    result = json.loads(out.read_text())
    assert result["enqueue"]["jobs"] == result["lease_ack"]["jobs"] == 300
    assert result["enqueue"]["jobs_per_s"] > 0 and result["enqueue"]["p99_ms"] >= result["enqueue"]["p50_ms"] > 0
    assert {name: stats[name] for name in ("ready", "delayed", "inflight", "dlq")} == {
        "ready": 0, "delayed": 0, "inflight": 0, "dlq": 0,
    }  # fmt: skip
    assert "lease+ack" in done.stdout


def test_a_refused_call_fails_the_run(loadgen: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    command = [str(loadgen), "-url", url, "-jobs", "10"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "enqueue:" in done.stderr
