"""Options of the embedded engine (built by the server from ``wal.*`` settings)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rivetq.backup.options import BackupOptions
from rivetq.storage.local.fileio import FileIO

__all__ = ["LocalOptions"]


@dataclass(frozen=True)
class LocalOptions:
    data_dir: Path
    segment_size: int = 64 * 1024 * 1024
    fsync: bool = True
    checkpoint_bytes: int = 8 * 1024 * 1024  # WAL bytes since the last checkpoint that trigger one
    checkpoint_interval_ms: int = 60_000
    order_window: int = 256  # LMDB keys read ahead per queue and priority (and for leases), see ordered.py
    map_size: int = 64 * 1024**3  # LMDB address space (the file grows as needed)
    on_fsync: Callable[[float], None] | None = None  # seconds per fdatasync, called from the WAL thread
    space_reserve: int = 0  # disk-space reserve and alarm threshold in bytes (see space.py); 0: two segments
    accept_wal_loss: bool = False  # start from what is left of a log missing segments (logged)
    backup: BackupOptions = field(default_factory=BackupOptions)  # backup.url set: ship the log there
    io: FileIO = field(default_factory=FileIO)  # tests inject faults here
