"""Which log a backup location belongs to. Every data directory gets a random log id the
first time it ships or backs up (``<data_dir>/log-id``); a location records the ids
that wrote to it (``owners/<id>``) and refuses any other. A restored directory is a new
one, so its server cannot add its records to the location it was restored from, where
the log it continues from a point in the past would interleave with the records the
old server shipped after that point (the same LSNs and segments, other bytes)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from rivetq.backup.options import BackupOptions
from rivetq.backup.target import BackupTarget, fsync_dir, open_target
from rivetq.errors import StateConflict

__all__ = ["ForeignLog", "claim", "log_id", "open_own_target"]

OWNERS = "owners/"
_FILE = "log-id"


class ForeignLog(StateConflict):
    """The location holds the backup of another log."""


def log_id(data_dir: Path) -> str:
    """This data directory's log id, made (durably) on first use."""
    path = data_dir / _FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    made = uuid.uuid4().hex
    temp = path.with_name(f".{_FILE}.tmp")
    with temp.open("w") as file:
        file.write(made)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temp, path)
    fsync_dir(data_dir)
    return made


def claim(target: BackupTarget, url: str, own_id: str) -> None:
    """Record ``own_id`` as the location's writer; ``ForeignLog`` if another log wrote there."""
    owners = {key.removeprefix(OWNERS) for key in target.list_keys(OWNERS)}
    if others := owners - {own_id}:
        raise ForeignLog(
            f"{url} holds the backup of another log ({', '.join(sorted(others))}; this server's is {own_id}):"
            " another server's, or the one this data directory was restored from; use a new location"
        )
    if own_id not in owners:
        target.put_bytes(f"{OWNERS}{own_id}", b"")


def open_own_target(url: str, options: BackupOptions, data_dir: Path) -> BackupTarget:
    """The target at ``url``, claimed for ``data_dir``'s log (``ForeignLog`` if another's)."""
    target = open_target(url, endpoint=options.endpoint, region=options.region)
    claim(target, url, log_id(data_dir))
    return target
