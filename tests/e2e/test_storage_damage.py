"""Damage to a stopped server's files, done from outside as an operator's mistake or a
failing disk would: every kind is caught by rivetqd's startup and by ``rivetqctl wal
verify``, naming the file, or is provably harmless (every job reads back exactly as
acknowledged). Nothing is lost in silence."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rivetq.storage.local.record import Frame, read_frame
from rivetq.storage.local.segment import HEADER_SIZE, list_segments
from tests.e2e.server import RunningServer, ServerFactory, spawn_server

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

QUEUE = "damage"
SMALL_SEGMENTS = {"RIVETQ_WAL_SEGMENT_SIZE": "4096"}


def _enqueue(server: RunningServer, count: int) -> dict[str, str]:
    """``count`` acknowledged enqueues; their ids and payloads."""
    jobs: dict[str, str] = {}
    with server.client() as client:
        for n in range(count):
            payload = json.dumps({"n": n, "pad": "x" * 40})
            reply = client.post(f"/v1/queues/{QUEUE}/enqueue", content=f'{{"payload": {payload}}}')
            assert reply.status_code == 201, reply.text
            jobs[reply.json()["job_id"]] = payload
    return jobs


def _wal_verify(data_dir: Path) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "rivetqctl"), "wal", "verify", "--data-dir", str(data_dir)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def _failed_start(directory: Path, data_dir: Path) -> str:
    """rivetqd on ``data_dir`` must refuse to start; its output."""
    process, log_path, _, _ = spawn_server(directory, data_dir=data_dir, grpc=False)
    assert process.wait(30) == 1, log_path.read_text()
    return log_path.read_text()


def _assert_caught(tmp_path: Path, data_dir: Path, named: Path) -> None:
    verify = _wal_verify(data_dir)
    assert verify.returncode == 1 and named.name in verify.stdout, verify.stdout + verify.stderr
    output = _failed_start(tmp_path / "refused", data_dir)
    assert "rivetqd_startup_failed" in output and named.name in output, output


def _segments(data_dir: Path) -> list[Path]:
    return [path for _, path in list_segments(data_dir / "wal")]


def _group_starts(segment: Path) -> list[int]:
    """Offsets of the write groups (and a closing seal) in ``segment``."""
    buf, offset, starts = segment.read_bytes(), HEADER_SIZE, []
    while isinstance(frame := read_frame(buf, offset), Frame):
        starts.append(offset)
        group_bytes = int.from_bytes(frame.body[12:16], "little") if frame.rtype == 0 else 0  # after a BATCH
        offset = frame.end + group_bytes
    return starts


@pytest.fixture
def crashed(servers: ServerFactory) -> tuple[Path, dict[str, str]]:
    """A data dir of small segments holding 120 enqueues, its server SIGKILLed (no
    checkpoint: everything lives in the log)."""
    server = servers.start(grpc=False, env=SMALL_SEGMENTS)
    jobs = _enqueue(server, 120)
    server.kill()
    assert len(_segments(server.data_dir)) > 3
    return server.data_dir, jobs


def test_a_deleted_newest_segment_is_caught(tmp_path: Path, crashed: tuple[Path, dict[str, str]]) -> None:
    data_dir, _ = crashed
    newest = _segments(data_dir)[-1]
    newest.unlink()
    _assert_caught(tmp_path, data_dir, newest)


def test_deleting_every_segment_is_caught(tmp_path: Path, crashed: tuple[Path, dict[str, str]]) -> None:
    data_dir, _ = crashed
    first = _segments(data_dir)[0]
    for segment in _segments(data_dir):
        segment.unlink()
    _assert_caught(tmp_path, data_dir, first)


def test_a_newest_segment_cut_at_a_group_boundary_is_caught(
    tmp_path: Path, crashed: tuple[Path, dict[str, str]]
) -> None:
    data_dir, _ = crashed
    newest = _segments(data_dir)[-1]
    with newest.open("r+b") as file:
        file.truncate(_group_starts(newest)[-1])
    _assert_caught(tmp_path, data_dir, newest)


def test_zeroing_the_last_group_after_a_checkpoint_is_caught(tmp_path: Path, servers: ServerFactory) -> None:
    server = servers.start(grpc=False, env=SMALL_SEGMENTS)
    _enqueue(server, 30)
    assert server.terminate() == 0  # a clean stop checkpoints everything
    newest = _segments(server.data_dir)[-1]
    start = _group_starts(newest)[-1]
    data = bytearray(newest.read_bytes())
    data[start:] = bytes(len(data) - start)
    newest.write_bytes(bytes(data))
    _assert_caught(tmp_path, server.data_dir, newest)


def test_an_accepted_loss_is_logged_and_the_log_goes_on(
    tmp_path: Path, servers: ServerFactory, crashed: tuple[Path, dict[str, str]]
) -> None:
    data_dir, jobs = crashed
    newest = _segments(data_dir)[-1]
    newest.unlink()
    server = servers.start("--accept-wal-loss", data_dir=data_dir, grpc=False, env=SMALL_SEGMENTS)
    accepted = [event for event in server.log_events() if "WAL loss accepted" in str(event.get("event"))]
    assert accepted and newest.name in accepted[0]["event"], server.output()
    with server.client() as client:
        kept = {job["id"] for job in client.get(f"/v1/queues/{QUEUE}/jobs", params={"limit": 1000}).json()["jobs"]}
    assert kept and kept < set(jobs)  # what the lost segment held is gone, the rest is there
    more = _enqueue(server, 20)
    server.kill()
    assert _wal_verify(data_dir).returncode == 0
    restarted = servers.start(data_dir=data_dir, grpc=False)  # no flag needed any more
    with restarted.client() as client:
        listed = client.get(f"/v1/queues/{QUEUE}/jobs", params={"limit": 1000}).json()["jobs"]
    assert {job["id"] for job in listed} == kept | set(more)


@pytest.fixture
def checkpointed(servers: ServerFactory) -> tuple[Path, dict[str, str]]:
    """A data dir whose 300 jobs are all in the key-value store (a clean stop), its log
    one 1 MiB segment."""
    server = servers.start(grpc=False, env={"RIVETQ_WAL_SEGMENT_SIZE": str(1 << 20)})
    jobs = _enqueue(server, 300)
    assert server.terminate() == 0
    return server.data_dir, jobs


def _read_back(*data_dirs: Path) -> list[dict[str, Any]]:
    command = [sys.executable, "-m", "tests.e2e.damage_child", QUEUE, *map(str, data_dirs)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True, cwd=REPO)
    return [json.loads(line) for line in result.stdout.splitlines()]


def _flipped_copy(data_dir: Path, copy: Path, offset: int) -> Path:
    shutil.copytree(data_dir, copy)
    target = copy / "kv" / "data.mdb"
    data = bytearray(target.read_bytes())
    data[offset] ^= 0x5A
    target.write_bytes(bytes(data))
    return copy


def test_byte_flips_across_the_key_value_store_are_caught_or_harmless(
    tmp_path: Path, checkpointed: tuple[Path, dict[str, str]]
) -> None:
    """Each flip on a copy of the data dir; the check ``wal verify`` runs and the startup
    run in a process of their own (see ``damage_child``)."""
    data_dir, jobs = checkpointed
    size = (data_dir / "kv" / "data.mdb").stat().st_size
    offsets = [0, 40, 4096 + 16, 4096 + 40, *range(8192, size, max(size // 20, 1))]
    copies = [_flipped_copy(data_dir, tmp_path / f"flip{offset}", offset) for offset in offsets]
    reports = _read_back(*copies)
    assert len(reports) == len(copies)
    for copy, offset, report in zip(copies, offsets, reports, strict=True):
        where = f"flip at offset {offset}: {report}"
        assert "died" not in report, where
        if not report["verify"]:
            assert report["startup"] == "ok" and report["jobs"] == jobs, where  # harmless
            continue
        assert all(str(copy / "kv") in problem for problem in report["verify"]), where
        assert report["jobs"] is None, where  # startup or a read refused it, naming the store
        assert "key-value store" in (report["read"] or report["startup"]), where
    caught = [copy for copy, report in zip(copies, reports, strict=True) if report["verify"]]
    assert len(caught) >= len(copies) // 3  # much of the file is records: their damage is found
    assert _wal_verify(caught[0]).returncode == 1  # the CLI says the same


def test_an_empty_key_value_file_is_caught_once_the_log_was_trimmed(tmp_path: Path, servers: ServerFactory) -> None:
    server = servers.start(grpc=False, env=SMALL_SEGMENTS)
    _enqueue(server, 60)
    assert server.terminate() == 0  # the closing checkpoint deletes the segments it covers
    (server.data_dir / "kv" / "data.mdb").write_bytes(b"")
    _assert_caught(tmp_path, server.data_dir, _segments(server.data_dir)[0])


def test_an_empty_key_value_file_is_harmless_while_the_log_holds_everything(
    checkpointed: tuple[Path, dict[str, str]],
) -> None:
    data_dir, jobs = checkpointed
    assert [path.name for path in _segments(data_dir)] == ["00000000000000000001.wal"]
    (data_dir / "kv" / "data.mdb").write_bytes(b"")
    assert _wal_verify(data_dir).returncode == 0
    assert _read_back(data_dir)[0]["jobs"] == jobs


def test_a_damaged_record_is_a_500_naming_the_job(servers: ServerFactory, tmp_path: Path) -> None:
    server = servers.start(grpc=False)
    jobs = _enqueue(server, 3)
    assert server.terminate() == 0
    data_file = server.data_dir / "kv" / "data.mdb"
    data = bytearray(data_file.read_bytes())
    victim = next(iter(jobs))
    at = data.find(jobs[victim].encode())
    data[at + 5] ^= 0x01
    data_file.write_bytes(bytes(data))
    restarted = servers.start(data_dir=server.data_dir, grpc=False)
    with restarted.client() as client:
        got = client.get(f"/v1/jobs/{victim}")
        leased = client.post(f"/v1/queues/{QUEUE}/lease", json={"max_jobs": 3})
    for reply in (got, leased):
        assert reply.status_code == 500 and reply.json()["error"]["code"] == "storage_corrupt", reply.text
        assert victim in reply.json()["error"]["message"]
    assert any(victim in str(event.get("event")) for event in restarted.log_events() if event["level"] == "error")
