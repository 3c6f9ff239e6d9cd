"""The installed ``rivetqctl`` as a real subprocess: environment configuration, exit
codes and stderr, ``worker`` draining on SIGTERM, and ``wal verify``."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rivetq import Client
from tests.client.support import new_queue, server, wait_until
from tests.e2e.server import RunningServer, start_server

__all__ = ["server"]

RIVETQCTL = str(Path(sys.executable).parent / "rivetqctl")

HANDLERS = """
import asyncio, pathlib, signal, threading, time

OUT = pathlib.Path(__file__).parent


def slow(job):
    (OUT / f"started-{job.id}").touch()
    time.sleep(0.5)
    (OUT / f"done-{job.id}").touch()


def stuck(job):
    (OUT / f"started-{job.id}").touch()
    time.sleep(600)


def signals_its_own_thread(job):
    (OUT / f"started-{job.id}").touch()
    for _ in range(2):  # the kernel may deliver a SIGTERM to any thread: here, to this one
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
        time.sleep(1)
    time.sleep(600)


async def slow_async(job):
    (OUT / f"started-{job.id}").touch()
    await asyncio.sleep(0.5)
    (OUT / f"done-{job.id}").touch()


async def stuck_async(job):
    (OUT / f"started-{job.id}").touch()
    await asyncio.sleep(600)
"""


def _ctl(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RIVETQ_")} | (env or {})
    return subprocess.run(
        [RIVETQCTL, *args], check=False, capture_output=True, text=True, env=environment, cwd=cwd, timeout=60
    )


def test_process_server_from_env_and_json_output(server: RunningServer) -> None:
    queue = new_queue()
    env = {"RIVETQ_URL": server.url}
    enqueued = _ctl("enqueue", "-q", queue, "-p", '{"n": 1}', "--json", env=env)
    assert enqueued.returncode == 0, enqueued.stderr
    job_id = json.loads(enqueued.stdout)["job_id"]
    stats = _ctl("--json", "stats", "-q", queue, env=env)
    assert json.loads(stats.stdout)["ready"] == 1
    failed = _ctl("job", "cancel", "no-such-job", env=env)
    assert (failed.returncode, failed.stdout) == (1, "")
    assert failed.stderr.startswith("error: job_not_found: ") and failed.stderr.count("\n") == 1
    assert _ctl("job", "get", job_id, "--json", env=env).returncode == 0


def test_process_usage_error_exits_2() -> None:
    result = _ctl("lease")
    assert result.returncode == 2 and "Missing option" in result.stderr


def test_process_token_from_env(tmp_path: Path) -> None:
    with start_server(tmp_path, "--storage-backend", "memory", grpc=False, token="tok-1") as secured:
        denied = _ctl("list", env={"RIVETQ_URL": secured.url})
        assert denied.returncode == 1 and denied.stderr.startswith("error: unauthenticated: ")
        allowed = _ctl("list", env={"RIVETQ_URL": secured.url, "RIVETQ_TOKEN": "tok-1"})
        assert (allowed.returncode, allowed.stdout) == (0, "no queues\n")


@contextlib.contextmanager
def _worker_on_a_started_job(
    client: Client, server: RunningServer, directory: Path, handler: str, queue: str
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Enqueue one job, run ``rivetqctl worker handlers:<handler>`` on ``queue`` and yield
    (job id, worker process) once the handler has started; the worker is killed on exit."""
    job_id = client.enqueue(queue, "work")
    (directory / "handlers.py").write_text(HANDLERS)
    with subprocess.Popen(
        [RIVETQCTL, "--server", server.url, "worker", f"handlers:{handler}", "-q", queue, "--wait", "200"],
        cwd=directory,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as worker:
        try:
            wait_until((directory / f"started-{job_id}").exists, "the handler to start")
            yield job_id, worker
        finally:
            worker.kill()


@pytest.mark.parametrize("handler", ["slow", "slow_async"])
def test_process_worker_drains_on_sigterm(server: RunningServer, tmp_path: Path, handler: str) -> None:
    queue = new_queue()
    with Client(server.url) as client:
        with _worker_on_a_started_job(client, server, tmp_path, handler, queue) as (job_id, worker):
            worker.send_signal(signal.SIGTERM)
            output, _ = worker.communicate(timeout=30)
        assert worker.returncode == 0, output
        assert "SIGTERM" in output
        assert (tmp_path / f"done-{job_id}").exists()
        stats = client.stats(queue)
        assert (stats.acked_total, stats.nacked_total, stats.inflight) == (1, 0, 0)


@pytest.mark.parametrize("handler", ["stuck", "stuck_async"])
def test_process_worker_second_sigterm_quits_without_draining(
    server: RunningServer, tmp_path: Path, handler: str
) -> None:
    queue = new_queue()
    with Client(server.url) as client:
        with _worker_on_a_started_job(client, server, tmp_path, handler, queue) as (job_id, worker):
            worker.send_signal(signal.SIGTERM)
            assert worker.stdout is not None
            while "draining" not in worker.stdout.readline():
                pass
            worker.send_signal(signal.SIGTERM)
            output, _ = worker.communicate(timeout=30)
        assert worker.returncode == 1, output
        assert "quitting without draining" in output
        assert client.get_job(job_id).state == "inflight"  # its lease expires on its own


def test_process_worker_hears_signals_the_kernel_gave_another_thread(server: RunningServer, tmp_path: Path) -> None:
    queue = new_queue()
    with Client(server.url) as client:
        with _worker_on_a_started_job(client, server, tmp_path, "signals_its_own_thread", queue) as (job_id, worker):
            output, _ = worker.communicate(timeout=30)
        assert worker.returncode == 1, output
        assert "draining" in output and "quitting without draining" in output
        assert client.get_job(job_id).state == "inflight"


def _verify_both_ways(*args: str) -> subprocess.CompletedProcess[str]:
    """``rivetqctl wal verify`` and ``python -m rivetq.storage.local.verify`` say the same."""
    *flags, data_dir = args
    ctl = _ctl("wal", "verify", *flags, "--data-dir", data_dir)
    module = [sys.executable, "-m", "rivetq.storage.local.verify", *flags, data_dir]
    tool = subprocess.run(module, check=False, capture_output=True, text=True, timeout=60)
    assert (ctl.returncode, ctl.stdout, ctl.stderr) == (tool.returncode, tool.stdout, tool.stderr)
    return ctl


def test_process_wal_verify(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with start_server(tmp_path, grpc=False, data_dir=data_dir) as local, Client(local.url) as client:
        client.enqueue_batch("q", [{"payload": n} for n in range(20)])
        in_use = _verify_both_ways(str(data_dir))
        assert (in_use.returncode, in_use.stdout) == (2, ""), in_use.stderr
        holder = local.processes().get("owner", local.pid)  # the storage owner holds the lock
        assert f"in use by a running server (process {holder})" in in_use.stderr
        assert "--force" in in_use.stderr
        forced = _verify_both_ways("--force", str(data_dir))
        assert (forced.returncode, forced.stdout) == (0, f"ok: {data_dir} is intact\n"), forced.stderr
        assert "moving target" in forced.stderr
        assert json.loads(_ctl("--json", "wal", "verify", "--force", "--data-dir", str(data_dir)).stdout) == {
            "ok": True, "problems": [], "in_use_by": str(holder)
        }  # fmt: skip
        assert local.terminate() == 0
    clean = _verify_both_ways(str(data_dir))
    assert (clean.returncode, clean.stdout, clean.stderr) == (0, f"ok: {data_dir} is intact\n", "")
    segment = max((data_dir / "wal").iterdir(), key=lambda path: path.stat().st_size)
    with segment.open("r+b") as file:  # garble the first record; later records stay intact
        file.seek(12)
        file.write(b"\xff" * 16)
    damaged = _ctl("--json", "wal", "verify", "--data-dir", str(data_dir))
    assert damaged.returncode == 1
    report = json.loads(damaged.stdout)
    assert report["ok"] is False and report["problems"]
