"""The supervisor's run directory (the owner's socket, the metrics files), one per
``rivetqd`` in the temp dir and named after its pid. A supervisor killed with SIGKILL
cannot remove its own, so each start removes the ones whose supervisor is gone."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["run_directory"]

_PREFIX = "rivetqd-"


def run_directory() -> tempfile.TemporaryDirectory[str]:
    """A new run directory, removed when the returned context exits; orphans go first."""
    _remove_orphans(Path(tempfile.gettempdir()))
    return tempfile.TemporaryDirectory(prefix=f"{_PREFIX}{os.getpid()}-")


def _remove_orphans(base: Path) -> None:
    for path in base.glob(f"{_PREFIX}*-*"):
        pid = path.name.removeprefix(_PREFIX).split("-", 1)[0]
        if pid.isdigit() and _owned_by_me(path) and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _owned_by_me(path: Path) -> bool:
    try:
        return path.is_dir() and path.stat().st_uid == os.getuid()
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
