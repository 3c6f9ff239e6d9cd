"""Pruning a backup: snapshots older than the retention window go, except the newest of
them (the base for a restore to the window's start), and with them the WAL segments
that end before the oldest snapshot kept."""

from __future__ import annotations

from rivetq.backup.layout import Catalog
from rivetq.backup.target import BackupTarget

__all__ = ["prune"]


def prune(target: BackupTarget, catalog: Catalog, keep_since_ms: int) -> int:
    """Delete what no restore to a time at or after ``keep_since_ms`` needs; returns how
    many objects went."""
    snapshots = sorted(catalog.snapshots, key=lambda snapshot: snapshot.ms)
    older = [snapshot for snapshot in snapshots if snapshot.ms < keep_since_ms]
    if not older:
        return 0
    dropped = older[:-1]
    oldest_kept = min(snapshot.lsn for snapshot in snapshots if snapshot not in dropped)
    segments = sorted({piece.segment for piece in catalog.pieces})
    # A segment is needed from the one holding the record after the oldest snapshot kept.
    needed_from = max((first for first in segments if first <= oldest_kept + 1), default=0)
    keys = [snapshot.key for snapshot in dropped]
    keys += [piece.key for piece in catalog.pieces if piece.segment < needed_from]
    target.delete(keys)
    return len(keys)
