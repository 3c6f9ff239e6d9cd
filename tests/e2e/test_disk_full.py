"""A full disk is an alarm, not a dead end: on a small loop-mounted file system (root
only; CI runs as root) rivetqd is filled under load until enqueues are refused, killed,
restarted on the full disk, and workers still drain every acknowledged job, without a
file of rivetqd's removed by hand; when space returns, enqueues are accepted again."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import RunningServer, ServerFactory, spawn_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="mounting a loop file system needs root"),
]

QUEUE = "full"
DISK = {"RIVETQ_WAL_SEGMENT_SIZE": "256KiB", "RIVETQ_WAL_SPACE_RESERVE": "2MiB"}
PAYLOAD = {"pad": "x" * 1000}
BALLAST_BYTES = 3 << 20  # another program's file, deleted at the end to give space back


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    image, mount = tmp_path / "disk.img", tmp_path / "disk"
    mount.mkdir()
    with image.open("wb") as file:
        file.truncate(24 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    subprocess.run(["mount", "-o", "loop", str(image), str(mount)], check=True)
    try:
        yield mount
    finally:
        _unmount(mount)


def _unmount(mount: Path) -> None:
    """Retried for a while: a killed server's processes may still be closing their files."""
    deadline = time.monotonic() + 10
    while subprocess.run(["umount", str(mount)], check=False).returncode != 0:
        assert time.monotonic() < deadline, f"{mount} stays busy"
        time.sleep(0.1)


async def _fill(server: RunningServer) -> set[str]:
    """Batch enqueues from 4 clients until every one is refused for disk space; the ids
    of the acknowledged jobs."""
    acknowledged: set[str] = set()

    async def client(http: httpx.AsyncClient) -> None:
        while True:
            reply = await http.post(f"/v1/queues/{QUEUE}/enqueue_batch", json={"jobs": [{"payload": PAYLOAD}] * 20})
            if reply.status_code == 503:
                if "disk space low" in reply.json()["error"]["message"]:
                    return
                continue  # a write that met the full disk first: refused whole, nothing half-applied
            assert reply.status_code == 201, reply.text
            acknowledged.update(reply.json()["job_ids"])

    async with server_client(server) as http:
        await asyncio.gather(*(client(http) for _ in range(4)))
    return acknowledged


def _fill_until_unready(server: RunningServer) -> set[str]:
    """Fills until /readyz and the alarm metric report the low disk. A checkpoint that deletes WAL segments
    right after the refusal can give back enough space for the alarm to go off, rightly,
    before /readyz is asked; then enqueues are accepted again and the fill goes on."""
    acknowledged: set[str] = set()
    for _ in range(20):
        acknowledged |= asyncio.run(_fill(server))
        ready = httpx.get(f"{server.url}/readyz")
        if ready.status_code == 503:
            assert "disk space low" in ready.json()["reason"], ready.text
            if _alarm_metric(server) == 1:
                return acknowledged
        else:
            assert ready.status_code == 200, ready.text
    raise AssertionError("enqueues were refused for disk space, but /readyz never said so")


def server_client(server: RunningServer) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, timeout=30)


async def _drain(server: RunningServer) -> list[str]:
    """Lease and ack until the queue is empty; every job leased, in lease order."""
    leased: list[str] = []
    async with server_client(server) as http:
        while True:
            reply = await http.post(f"/v1/queues/{QUEUE}/lease", json={"max_jobs": 50, "visibility_ms": 600_000})
            assert reply.status_code == 200, reply.text
            jobs = reply.json()["jobs"]
            if not jobs:
                return leased
            leased += [job["id"] for job in jobs]
            acks = [{"job_id": job["id"], "lease_id": job["lease_id"]} for job in jobs]
            acked = await http.post("/v1/ack_batch", json={"acks": acks})
            assert acked.status_code == 200 and all(r["ok"] for r in acked.json()["results"]), acked.text


def _start_unready(directory: Path, data_dir: Path) -> RunningServer:
    """rivetqd on a full disk: serving (``/healthz``), though not ready for enqueues."""
    process, log_path, url, _ = spawn_server(directory, data_dir=data_dir, grpc=False, env=DISK)
    server = RunningServer(process, url, None, data_dir, log_path)
    deadline = time.monotonic() + 20
    while process.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            httpx.get(f"{url}/healthz", timeout=2).raise_for_status()
            return server
        time.sleep(0.05)
    server.kill()
    raise AssertionError(f"rivetqd did not come up:\n{log_path.read_text()}")


def _alarm_metric(server: RunningServer) -> float:
    text = httpx.get(f"{server.url}/metrics").text
    (line,) = [line for line in text.splitlines() if line.startswith("rivetq_disk_space_alarm ")]
    return float(line.split()[1])


def test_a_full_disk_is_drained_by_workers_and_recovers(
    small_disk: Path, servers: ServerFactory, tmp_path: Path
) -> None:
    ballast = small_disk / "ballast"
    with ballast.open("wb") as file:
        os.posix_fallocate(file.fileno(), 0, BALLAST_BYTES)
    data_dir = small_disk / "data"
    server = servers.start(grpc=False, data_dir=data_dir, env=DISK)
    acknowledged = _fill_until_unready(server)
    assert len(acknowledged) > 1000
    server.kill()

    files_before = {path.name for path in data_dir.rglob("*")}
    with _start_unready(tmp_path / "restarted", data_dir) as restarted:
        _drain_and_recover(restarted, acknowledged, files_before, ballast)


def _drain_and_recover(restarted: RunningServer, acknowledged: set[str], files_before: set[str], ballast: Path) -> None:
    data_dir = restarted.data_dir
    assert any("disk space low" in str(event.get("event")) for event in restarted.log_events())
    leased = asyncio.run(_drain(restarted))
    assert sorted(leased) == sorted(acknowledged)  # every acknowledged job, once, and nothing else
    assert files_before - {path.name for path in data_dir.rglob("*")} <= {
        name for name in files_before if name.endswith(".wal") or name == "RESERVE"
    }  # only what rivetqd itself deletes went

    ballast.unlink()  # space comes back: the alarm goes off by itself
    deadline = time.monotonic() + 20
    while httpx.get(f"{restarted.url}/readyz").status_code != 200:
        assert time.monotonic() < deadline, httpx.get(f"{restarted.url}/readyz").text
        time.sleep(0.1)
    assert _alarm_metric(restarted) == 0
    reply = httpx.post(f"{restarted.url}/v1/queues/{QUEUE}/enqueue", json={"payload": PAYLOAD})
    assert reply.status_code == 201, reply.text


def test_a_startup_that_cannot_preallocate_names_file_size_and_free_space(small_disk: Path, tmp_path: Path) -> None:
    data_dir = small_disk / "data"
    env = {"RIVETQ_WAL_SEGMENT_SIZE": "64MiB"}  # more than the whole disk
    process, log_path, _, _ = spawn_server(tmp_path / "refused", data_dir=data_dir, grpc=False, env=env)
    assert process.wait(30) == 1
    output = log_path.read_text()
    segment = data_dir / "wal" / f"{1:020d}.wal"
    assert f"cannot preallocate 67108864 bytes for WAL segment {segment} (" in output, output
    assert " bytes free): No space left on device" in output, output
