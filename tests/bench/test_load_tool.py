"""``rivetq-bench`` run as a user runs it, against a real ``rivetqd`` (embedded engine,
fsync on): every call succeeds, every job enqueued is leased and acked exactly once by
the tool's own counts, the queue is empty afterwards, and the JSON says so.
Concurrent workers share the counters, so these also catch lost updates."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server import RunningServer, free_port, start_server

EMPTY = {"ready": 0, "delayed": 0, "inflight": 0, "dlq": 0}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with start_server(tmp_path_factory.mktemp("bench")) as running:
        yield running


def bench(server: RunningServer, tmp_path: Path, *args: str, grpc: bool = False) -> tuple[int, dict[str, Any], str]:
    """(exit status, the JSON written, stderr) of one ``rivetq-bench`` run."""
    out = tmp_path / "result.json"
    target = ["--grpc", server.grpc_target or ""] if grpc else []
    command = [sys.executable, "-m", "rivetq.bench", "--url", server.url, *target, "--json-out", str(out), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    return done.returncode, json.loads(out.read_text()), done.stderr


def assert_clean(result: dict[str, Any], batch: int = 1) -> None:
    assert result["problems"] == []
    for operation in ("enqueue", "lease", "ack"):
        assert result[operation]["failed"] == 0
        assert result[operation]["success_rate"] == 1.0
    assert result["jobs_enqueued"] > 0
    assert result["jobs_enqueued"] == result["jobs_leased"] == result["jobs_acked"]
    assert result["enqueue_to_lease"]["calls"] == result["jobs_leased"]
    if batch == 1:
        assert result["jobs_enqueued"] == result["enqueue"]["ok"]
        assert result["jobs_acked"] == result["ack"]["ok"]
    assert result["queue_after"] == EMPTY


def test_closed_loop_single_jobs(server: RunningServer, tmp_path: Path) -> None:
    status, result, stderr = bench(server, tmp_path, "loop", "--duration", "1.5", "--producers", "4",
                                   "--consumers", "4")  # fmt: skip
    assert status == 0, stderr
    assert_clean(result)
    assert result["transport"] == "rest"
    assert "enqueued" in stderr  # the progress line
    assert set(result["enqueue"]) >= {"p50_ms", "p95_ms", "p99_ms"}


def test_fixed_rate_batches_with_long_poll(server: RunningServer, tmp_path: Path) -> None:
    workers = ("--producers", "2", "--consumers", "2")
    status, result, stderr = bench(server, tmp_path, "loop", "--duration", "1.5", "--rate", "2000",
                                   "--batch", "20", "--wait-ms", "200", *workers)  # fmt: skip
    assert status == 0, stderr
    assert_clean(result, batch=20)
    assert result["jobs_enqueued"] <= 2000 * 1.5 + 2 * 20


def test_phases_enqueue_then_drain_in_batches(server: RunningServer, tmp_path: Path) -> None:
    status, result, stderr = bench(server, tmp_path, "phases", "--jobs", "2000", "--batch", "100")
    assert status == 0, stderr
    assert_clean(result, batch=100)
    assert result["jobs_enqueued"] == 2000


def test_phases_with_acks_sent_inside_the_next_lease(server: RunningServer, tmp_path: Path) -> None:
    status, result, stderr = bench(server, tmp_path, "phases", "--jobs", "1000", "--ack-in-lease")
    assert status == 0, stderr
    assert result["problems"] == []
    assert result["ack"]["calls"] == 0
    assert result["lease"]["failed"] == 0
    assert result["jobs_enqueued"] == result["jobs_leased"] == result["jobs_acked"] == 1000
    assert result["queue_after"] == EMPTY


def test_k6_scenario(server: RunningServer, tmp_path: Path) -> None:
    status, result, stderr = bench(server, tmp_path, "k6", "--queue", "load-test", "--time-scale", "0.015")
    assert status == 0, stderr
    assert_clean(result)


def test_grpc_stream_lease(server: RunningServer, tmp_path: Path) -> None:
    status, result, stderr = bench(server, tmp_path, "loop", "--duration", "1", "--batch", "20", "--stream",
                                   "--consumers", "2", grpc=True)  # fmt: skip
    assert status == 0, stderr
    assert_clean(result, batch=20)
    assert result["transport"] == "grpc"


def test_failed_calls_are_reported_and_fail_the_run(server: RunningServer, tmp_path: Path) -> None:
    status, result, _ = bench(server, tmp_path, "phases", "--jobs", "5", "--queue", "not a queue name!")
    assert status == 1
    assert result["enqueue"]["ok"] == 0
    assert result["enqueue"]["success_rate"] == 0.0
    assert result["enqueue"]["errors"] == {"HTTP 400": result["enqueue"]["calls"]}
    assert result["jobs_enqueued"] == 0
    assert result["problems"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["phases", "--stream"], "--stream (StreamLease) needs --grpc"),
        (["--grpc", "127.0.0.1:1", "phases", "--ack-in-lease"], "--ack-in-lease is a REST option"),
        (["phases", "--jobs", "0"], "--jobs"),
        (["loop", "--consumers", "0"], "--consumers"),
        (["loop", "--batch", "0"], "--batch"),
        (["loop", "--wait-ms", "-1"], "--wait-ms"),
        (["loop", "--rate", "-5"], "--rate"),
        (["loop", "--duration", "0"], "--duration"),
        (["--connections", "0", "loop"], "--connections"),
        (["k6", "--time-scale", "0"], "--time-scale"),
        (["--json-out", "/nonexistent/dir/x.json", "phases"], "--json-out"),
    ],
)
def test_options_the_transport_cannot_run_are_refused_up_front(args: list[str], message: str) -> None:
    command = [sys.executable, "-m", "rivetq.bench", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, message in done.stderr, "Traceback" in done.stderr) == (2, True, False)


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_no_server_at_the_address_fails_at_once_naming_it(tmp_path: Path, transport: str) -> None:
    """RIVETQ_URL is where the tool looks (as for rivetqctl and the SDKs); nothing answering
    there is one line and exit 2, not a whole scenario of failed calls."""
    address = f"127.0.0.1:{free_port()}"
    target = ["--grpc", address] if transport == "grpc" else []
    env = {"PATH": "/usr/bin:/bin", "RIVETQ_URL": f"http://{address}"}
    command = [sys.executable, "-m", "rivetq.bench", *target, "loop", "--duration", "30"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=20, env=env, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    expected = "gRPC server answers" if transport == "grpc" else "server answers"
    assert line.startswith(f"rivetq-bench: no RivetQ {expected} at {'' if target else 'http://'}{address}"), line
