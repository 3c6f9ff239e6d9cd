"""``verify_data_dir`` and ``python -m rivetq.storage.local.verify``: damage is found
without opening the data dir for writes; a torn tail is only a note."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rivetq.storage.local import LocalOptions, LocalStorage
from rivetq.storage.local.segment import HEADER_SIZE
from rivetq.storage.local.verify import DataDirInUse, check_data_dir, verify_data_dir
from tests.storage.contract_support import insert, new_job
from tests.storage.wal_support import flip_byte, segments


async def make_data_dir(data_dir: Path, jobs: int) -> Path:
    """A data dir whose WAL holds ``jobs`` inserts, one write group each (no checkpoint)."""
    storage = LocalStorage(LocalOptions(data_dir=data_dir, segment_size=1 << 16, checkpoint_bytes=1 << 30))
    await storage.open()
    for n in range(1, jobs + 1):
        await insert(storage, new_job(n))
    storage._core.stop_checkpoints()  # stop like a crash: no final checkpoint
    assert storage._checkpointer is not None
    await storage._checkpointer
    await storage._core.wal.close()
    storage._core._release()
    (segment,) = segments(data_dir / "wal")
    return segment


def run_tool(data_dir: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "rivetq.storage.local.verify", str(data_dir)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


async def test_verify_clean_data_dir(tmp_path: Path) -> None:
    await make_data_dir(tmp_path, 3)
    assert verify_data_dir(tmp_path) == []
    result = run_tool(tmp_path)
    assert (result.returncode, result.stdout) == (0, f"ok: {tmp_path} is intact\n")


async def test_verify_reports_a_flipped_byte_with_file_and_offset(tmp_path: Path) -> None:
    segment = await make_data_dir(tmp_path, 5)
    flip_byte(segment, HEADER_SIZE + 40)  # inside the first write group
    (problem,) = verify_data_dir(tmp_path)
    assert str(segment) in problem and "checksum" in problem
    result = run_tool(tmp_path)
    assert result.returncode == 1 and str(segment) in result.stdout
    assert segment.read_bytes()[HEADER_SIZE + 40] != 0  # nothing was cut or rewritten


async def test_verify_treats_a_torn_tail_as_a_note(tmp_path: Path) -> None:
    segment = await make_data_dir(tmp_path, 3)
    data = bytearray(segment.read_bytes())
    end = len(bytes(data).rstrip(b"\x00"))
    data[end : end + 6] = b"\x30\x00\x00\x00\x01\x02"  # half a frame header
    segment.write_bytes(bytes(data))
    assert verify_data_dir(tmp_path) == []
    result = run_tool(tmp_path)
    assert result.returncode == 0 and "torn tail" in result.stderr


def test_verify_missing_dir(tmp_path: Path) -> None:
    assert verify_data_dir(tmp_path / "nope") == [f"{tmp_path / 'nope'} is not a directory"]


async def test_verify_reports_a_log_directory_it_cannot_list(tmp_path: Path) -> None:
    """It said "OK" for a log it could not list (and startup then took the log for empty)."""
    await make_data_dir(tmp_path, 3)
    wal = tmp_path / "wal"
    wal.rename(tmp_path / "wal.moved")
    wal.write_bytes(b"")  # no directory where the log should be
    (problem,) = verify_data_dir(tmp_path)
    assert problem.startswith("WAL cannot be read:") and str(wal) in problem
    assert run_tool(tmp_path).returncode == 1


async def test_check_refuses_a_data_dir_an_open_storage_holds_unless_forced(tmp_path: Path) -> None:
    storage = LocalStorage(LocalOptions(data_dir=tmp_path))
    await storage.open()
    try:
        with pytest.raises(DataDirInUse, match=f"process {os.getpid()}"):
            check_data_dir(tmp_path, force=False)
        # (LMDB refuses a second open in one process: the real server case is in tests/cli)
        assert check_data_dir(tmp_path, force=True).in_use_by == str(os.getpid())
    finally:
        await storage.close()
    assert check_data_dir(tmp_path, force=False).in_use_by is None
