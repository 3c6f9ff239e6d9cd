"""The supervisor's run directories: a new one is named after the supervisor's pid, and
one left behind by a supervisor that is gone (SIGKILL) is removed at the next start;
a live supervisor's, and directories not in that form, are left alone."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from rivetq.server.procs.run_dirs import run_directory


@pytest.fixture
def base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_dead_supervisors_directory_is_removed_at_the_next_start(base: Path) -> None:
    orphan = base / f"rivetqd-{_dead_pid()}-abc123"
    (orphan / "metrics").mkdir(parents=True)
    (orphan / "metrics" / "counter_1.db").write_bytes(b"x")
    live = base / "rivetqd-1-live"  # pid 1 is always running
    live.mkdir()
    other = base / "rivetqd-g85vyfdi"  # not named after a pid
    other.mkdir()
    with run_directory() as run_dir:
        assert Path(run_dir).name.startswith(f"rivetqd-{os.getpid()}-")
        assert sorted(path.name for path in base.iterdir()) == sorted([Path(run_dir).name, live.name, other.name])
    assert not Path(run_dir).exists()
