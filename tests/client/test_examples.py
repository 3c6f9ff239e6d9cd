"""The examples in ``examples/`` run as documented against a real rivetqd."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rivetq import Client
from tests.client.support import memory_server, wait_until
from tests.e2e.server import RunningServer

REPO = Path(__file__).resolve().parents[2]


def _env(server: RunningServer) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("RIVETQ_")}, "RIVETQ_URL": server.url}


@pytest.mark.parametrize("worker_module", ["examples.worker_example", "examples.async_worker_example"])
def test_examples_producer_then_worker(tmp_path: Path, worker_module: str) -> None:
    with memory_server(tmp_path) as server, Client(server.url) as client:
        produced = subprocess.run(
            [sys.executable, "-m", "examples.producer"],
            check=False,
            cwd=REPO,
            env=_env(server),
            capture_output=True,
            text=True,
        )
        assert produced.returncode == 0, produced.stderr
        assert produced.stdout.count("enqueued") == 3 and "ready=4" in produced.stdout
        worker = subprocess.Popen(
            [sys.executable, "-m", worker_module],
            cwd=REPO,
            env=_env(server),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_until(lambda: client.stats("emails").acked_total == 4, "four acks")
            worker.send_signal(signal.SIGTERM)
            output, _ = worker.communicate(timeout=30)
        finally:
            worker.kill()
        assert worker.returncode == 0, output
        assert output.count("user") == 3 and "boss@example.com" in output
