"""What ``rivetqctl wal verify`` (and ``python -m rivetq.storage.local.verify``) is pointed
at: only a data directory is checked. A path that does not exist, a file, an empty
directory, one with only an empty ``wal/``, or a backup directory is "not checked"
(exit 2, nothing on stdout), never "ok: ... is intact"; a data directory whose store
file was deleted after a checkpoint is damage naming that file."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from rivetq.storage.local import LocalOptions, LocalStorage
from tests.storage.contract_support import insert, new_job

RIVETQCTL = str(Path(sys.executable).parent / "rivetqctl")
NOT_CHECKED = 2


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def _verify(data_dir: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    """``rivetqctl [flags] wal verify --data-dir DATA_DIR``; without flags, after checking
    that the module entry point says exactly the same."""
    ctl = _run([RIVETQCTL, *flags, "wal", "verify", "--data-dir", str(data_dir)])
    if not flags:
        module = _run([sys.executable, "-m", "rivetq.storage.local.verify", str(data_dir)])
        assert (ctl.returncode, ctl.stdout, ctl.stderr) == (module.returncode, module.stdout, module.stderr)
    return ctl


def _backup_layout(path: Path) -> None:
    """A backup directory as docs/backup.md lays it out: snapshots, pieces of segments, owners."""
    for name in (
        "snapshots/00000000000000000042-1700000000000.mdb",
        "wal/00000000000000000001/0-4096-42-1700000000000",
    ):
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(b"\x00" * 64)
    (path / "owners").mkdir()
    (path / "owners" / "0123456789abcdef").write_bytes(b"")


def _empty_log_only(path: Path) -> None:
    (path / "wal").mkdir()


def _nothing(path: Path) -> None:
    pass


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (_backup_layout, "is not a data directory but a backup"),
        (_empty_log_only, "is not a data directory (no key-value store in kv/, no WAL segment in wal/)"),
        (_nothing, "is not a data directory (no key-value store in kv/, no WAL segment in wal/)"),
    ],
    ids=["backup", "empty wal only", "empty"],
)
def test_a_directory_that_is_no_data_directory_is_not_checked(
    tmp_path: Path, make: Callable[[Path], None], expected: str
) -> None:
    target = tmp_path / "target"
    target.mkdir()
    make(target)
    result = _verify(target)
    assert (result.returncode, result.stdout) == (NOT_CHECKED, ""), result.stdout + result.stderr
    assert f"{target} {expected}" in result.stderr and "not checked" in result.stderr, result.stderr


def test_a_backup_directory_points_at_restore(tmp_path: Path) -> None:
    _backup_layout(tmp_path)
    assert f"rivetqd restore {tmp_path} --data-dir" in _verify(tmp_path).stderr


@pytest.mark.parametrize(
    ("name", "expected"), [("nope", "does not exist: not checked"), ("a-file", "is not a directory: not checked")]
)
def test_a_path_that_is_no_directory_is_not_checked(tmp_path: Path, name: str, expected: str) -> None:
    (tmp_path / "a-file").write_text("not a data dir")
    result = _verify(tmp_path / name)
    assert (result.returncode, result.stdout) == (NOT_CHECKED, ""), result.stdout + result.stderr
    assert result.stderr.strip() == f"{tmp_path / name} {expected}"


def test_json_output_is_not_checked_either(tmp_path: Path) -> None:
    result = _verify(tmp_path / "nope", "--json")
    assert (result.returncode, result.stdout) == (NOT_CHECKED, "")


async def _checkpointed_data_dir(data_dir: Path) -> None:
    """60 jobs, one WAL record each, in 4 KiB segments; the closing checkpoint deletes
    the segments before it."""
    storage = LocalStorage(LocalOptions(data_dir=data_dir, segment_size=4096))
    await storage.open()
    for n in range(1, 61):
        await insert(storage, new_job(n))
    await storage.close()


def test_a_data_dir_is_checked_and_a_deleted_store_is_named(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    asyncio.run(_checkpointed_data_dir(data_dir))
    assert _verify(data_dir).stdout == f"ok: {data_dir} is intact\n"
    data_file = data_dir / "kv" / "data.mdb"
    data_file.unlink()
    result = _verify(data_dir)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{data_file} is missing" in result.stdout and "rivetqd restore" in result.stdout, result.stdout
    assert "--accept-wal-loss, once" not in result.stdout
    assert not data_file.exists()
