"""The data-dir lock, with a real second process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rivetq.storage.local import LocalOptions, LocalStorage

OPEN_IN_CHILD = """
import asyncio, sys
from pathlib import Path
from rivetq.storage.local import LocalOptions, LocalStorage

async def main() -> None:
    storage = LocalStorage(LocalOptions(data_dir=Path(sys.argv[1])))
    await storage.open()
    await storage.close()

asyncio.run(main())
"""


def open_in_child(data_dir: Path | str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", OPEN_IN_CHILD, str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )


async def test_second_process_fails_at_once_naming_dir_and_holder(tmp_path: Path) -> None:
    storage = LocalStorage(LocalOptions(data_dir=tmp_path))
    await storage.open()
    try:
        child = open_in_child(tmp_path)
    finally:
        await storage.close()
    assert child.returncode != 0
    assert "DataDirLocked" in child.stderr
    assert f"data directory {tmp_path} is already in use by process {os.getpid()}" in child.stderr
    assert open_in_child(tmp_path).returncode == 0  # released on close


async def test_the_lock_message_names_the_directory_absolutely(tmp_path: Path) -> None:
    storage = LocalStorage(LocalOptions(data_dir=tmp_path))
    await storage.open()
    try:
        child = open_in_child(".", cwd=tmp_path)  # --data-dir .
    finally:
        await storage.close()
    assert f"data directory {tmp_path} is already in use" in child.stderr
    assert f"(lock file {tmp_path / 'LOCK'})" in child.stderr
