"""An online backup: a snapshot of the store plus the durable WAL after it, written to
a directory or an S3 URL while writes go on."""

from __future__ import annotations

import itertools
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from rivetq.backup.copier import CopyStore, LogCopier
from rivetq.backup.identity import open_own_target
from rivetq.backup.options import BackupOptions
from rivetq.backup.target import TargetURL, dir_failures, make_dir, overlap_with, parse_url, s3_failures
from rivetq.errors import InvalidArgument
from rivetq.models import BackupResult

if TYPE_CHECKING:  # the engine imports this package: no import cycle at run time
    from rivetq.storage.local.wal import WalWriter

__all__ = ["online_backup"]

FIELD = "dest"  # the request field errors name

_ids = itertools.count(1)


def online_backup(
    dest: str, options: BackupOptions, wal: WalWriter, copy_store: CopyStore, data_dir: Path
) -> BackupResult:
    """Blocking (run it in a thread): the store as of one read transaction, then the log
    from the record after it to the last durable one. ``InvalidArgument`` naming ``dest``
    for a location no backup can go to."""
    location = parse_url(dest, field=FIELD)
    copier = LogCopier(wal, copy_store, data_dir, holder=f"online-backup-{next(_ids)}")
    try:
        with _failures(dest, location):
            if not location.bucket:
                make_dir(_local_dir(location.path, data_dir))
            target = open_own_target(dest, options, data_dir)
            snapshot, start = copier.snapshot(target)
            _, last_lsn = copier.ship(target, start)
    finally:
        copier.release()
    return BackupResult(url=target.url, snapshot_lsn=snapshot.lsn, last_lsn=max(last_lsn, snapshot.lsn))


def _failures(dest: str, location: TargetURL) -> AbstractContextManager[None]:
    return s3_failures(dest) if location.bucket else dir_failures(dest, field=FIELD)


def _local_dir(path: str, data_dir: Path) -> Path:
    """``path`` if a backup may go there: absolute (the server cannot know its caller's
    working directory) and apart from the live ``data_dir`` (symlinks resolved)."""
    given = Path(path)
    if not given.is_absolute():
        raise InvalidArgument(
            f"{FIELD}: {path!r} is a relative path: give an absolute path on the server's host, or s3://bucket/prefix",
            field=FIELD,
        )
    if relation := overlap_with(given, data_dir):
        raise InvalidArgument(
            f"{FIELD}: {path} {relation} the server's data directory ({data_dir.resolve()}): "
            "back up to a directory apart from it",
            field=FIELD,
        )
    return given
