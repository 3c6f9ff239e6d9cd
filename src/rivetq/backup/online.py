"""An online backup: a snapshot of the store plus the durable WAL after it, written to
a directory or an S3 URL while writes go on."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING

from rivetq.backup.copier import CopyStore, LogCopier
from rivetq.backup.identity import open_own_target
from rivetq.backup.options import BackupOptions
from rivetq.backup.target import s3_failures
from rivetq.models import BackupResult

if TYPE_CHECKING:  # the engine imports this package: no import cycle at run time
    from rivetq.storage.local.wal import WalWriter

__all__ = ["online_backup"]

_ids = itertools.count(1)


def online_backup(
    dest: str, options: BackupOptions, wal: WalWriter, copy_store: CopyStore, scratch_dir: Path
) -> BackupResult:
    """Blocking (run it in a thread): the store as of one read transaction, then the log
    from the record after it to the last durable one."""
    copier = LogCopier(wal, copy_store, scratch_dir, holder=f"online-backup-{next(_ids)}")
    try:
        with s3_failures(dest):
            target = open_own_target(dest, options, scratch_dir)
            snapshot, start = copier.snapshot(target)
            _, last_lsn = copier.ship(target, start)
    finally:
        copier.release()
    return BackupResult(url=target.url, snapshot_lsn=snapshot.lsn, last_lsn=max(last_lsn, snapshot.lsn))
