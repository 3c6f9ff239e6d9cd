"""A profiler or debugger stops the server with ptrace and resumes it; the system calls
it was in come back with EINTR. The WAL's flush completions must still all be read
(caio lets that EINTR escape its callback), so every write goes on and nothing is
logged as an error. The process is really stopped, hundreds of times a second, by
py-spy in its default (stopping) mode."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PY_SPY = Path(sys.executable).with_name("py-spy")


def test_writes_go_on_while_a_profiler_stops_the_process(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.storage.interrupted_child", str(tmp_path / "data"), "5"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "READY\n"
    time.sleep(0.5)
    profiler = subprocess.run(
        [
            str(PY_SPY),
            "record",
            "--rate",
            "1000",
            "--duration",
            "3",
            "--pid",
            str(child.pid),
            "-o",
            str(tmp_path / "p.txt"),
            "--format",
            "raw",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    out, err = child.communicate(timeout=60)
    assert profiler.returncode == 0, profiler.stderr
    assert "Traceback" not in err, err
    assert out.startswith("DONE "), out
    inserts, failures = (int(word) for word in out.split()[1:3])
    assert failures == 0 and inserts > 0, out
