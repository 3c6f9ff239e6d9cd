"""``make run`` with other ports through ARGS, as the README and docs/getting-started.md give it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.e2e.server import STOP_TIMEOUT_S, free_port, wait_ready

REPO = Path(__file__).resolve().parents[2]


def test_make_run_passes_args_to_rivetqd(tmp_path: Path) -> None:
    port = free_port()
    args = f"--http-addr 127.0.0.1:{port} --grpc-addr '' --storage-backend memory --data-dir {tmp_path}"
    venv = Path(sys.executable).parent.parent
    log_path = tmp_path / "make.log"
    with log_path.open("wb") as log:
        # -o ui: the UI build (npm) is make test-ui's business, not this test's
        make = subprocess.Popen(
            ["make", "--no-print-directory", "-o", "ui", "run", f"VENV={venv}", f"ARGS={args}"],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_ready(make, f"http://127.0.0.1:{port}", log_path)
        listed = httpx.get(f"http://127.0.0.1:{port}/v1/queues").json()
        assert listed == {"queues": [], "summaries": []}  # memory: empty
    finally:
        os.killpg(make.pid, signal.SIGTERM)
        make.wait(STOP_TIMEOUT_S)
