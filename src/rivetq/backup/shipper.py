"""Continuous shipping: a thread copies the durable log to the target every
``interval_ms`` (sooner once ``ship_bytes`` of it wait), a fresh snapshot every
``snapshot_interval_ms`` (and at start, and after the log it had to copy was deleted),
and prunes what retention no longer needs.

The thread never touches the event loop or the write path: a bucket that is away only
makes the lag grow. A failed pass is retried with exponential backoff (up to 30 s)."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rivetq.backup.copier import CopyStore, LogCopier, LogGap, Position, now_ms, remove_scratch
from rivetq.backup.identity import open_own_target
from rivetq.backup.layout import Catalog
from rivetq.backup.options import BackupOptions
from rivetq.backup.retention import prune
from rivetq.backup.target import BackupTarget

if TYPE_CHECKING:  # the engine imports this package: no import cycle at run time
    from rivetq.storage.local.wal import WalWriter

__all__ = ["Shipper"]

log = logging.getLogger("rivetq.backup")
_MAX_BACKOFF_S = 30.0
_SIZE_CHECK_S = 0.05  # how often a waiting shipper looks at the size of the log it has not shipped


class Shipper:
    def __init__(self, options: BackupOptions, wal: WalWriter, copy_store: CopyStore, scratch_dir: Path) -> None:
        self._options, self._wal = options, wal
        self._copier = LogCopier(wal, copy_store, scratch_dir, holder="shipper")
        self._scratch_dir = scratch_dir
        self._target: BackupTarget | None = None
        self._position: Position | None = None  # None: start over from a fresh snapshot
        self._next_snapshot = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rivetq-backup", daemon=True)
        self.shipped_lsn = -1
        self.caught_up_at = time.time()  # everything durable at this time has been shipped
        self.errors = 0
        self.failing: str | None = None  # why the last pass failed

    def start(self) -> None:
        self._wal.max_held_bytes = self._options.max_unshipped_bytes
        remove_scratch(self._scratch_dir)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """One last pass ships what is durable, then the thread ends (blocking: call from a thread)."""
        self._stop.set()
        self._thread.join(timeout_s)
        self._copier.release()

    def gauges(self) -> dict[str, float]:
        behind = self.shipped_lsn < self._wal.last_durable_lsn
        lag = max(0.0, time.time() - self.caught_up_at) if behind else 0.0
        return {
            "backup_lag_seconds": lag,
            "backup_shipped_lsn": float(self.shipped_lsn),
            "backup_upload_errors": float(self.errors),
        }

    def _run(self) -> None:
        backoff = 0.0
        while True:
            final = self._stop.is_set()
            backoff = self._pass_or_backoff(backoff)
            if final:
                return
            if backoff:
                self._stop.wait(backoff)  # woken by stop: a last pass
            else:
                self._wait_for_interval_or_size()

    def _wait_for_interval_or_size(self) -> None:
        """Until the interval is up, ``ship_bytes`` of durable log wait, or stop."""
        deadline = time.monotonic() + self._options.interval_ms / 1000
        while (left := deadline - time.monotonic()) > 0 and not self._stop.wait(min(left, _SIZE_CHECK_S)):
            if self._unshipped_bytes() >= self._options.ship_bytes:
                return

    def _unshipped_bytes(self) -> int:
        position = self._position
        if position is None:
            return 0  # the next pass starts over from a snapshot anyway
        return self._copier.pending_bytes(position)

    def _pass_or_backoff(self, backoff: float) -> float:
        """One pass; the next wait after a failure (0 after a success)."""
        try:
            self._pass()
        except Exception as error:
            self.errors += 1
            # /readyz is open to anyone: the notice names no bucket or endpoint, the log does.
            kind = type(error).__name__
            self.failing = f"shipping the WAL to backup.url fails ({kind}; see backup_upload_failed in the log)"
            backoff = min(max(backoff * 2, 1.0), _MAX_BACKOFF_S)
            log.warning("backup_upload_failed: %s (retrying in %.0f s)", error, backoff)
            return backoff
        self.failing = None
        return 0.0

    def _pass(self) -> None:
        target = self._target = self._target or open_own_target(self._options.url, self._options, self._scratch_dir)
        if self._position is None or time.monotonic() >= self._next_snapshot:
            self._snapshot(target)
        assert self._position is not None
        seen_at = time.time()
        try:
            self._position, self.shipped_lsn = self._copier.ship(target, self._position)
        except LogGap as gap:
            log.error("backup_log_gap: %s; taking a fresh snapshot", gap)
            self._position = None
            raise
        self.caught_up_at = seen_at

    def _snapshot(self, target: BackupTarget) -> None:
        still_needed = self._position.segment if self._position is not None else None
        snapshot, start = self._copier.snapshot(target, still_needed=still_needed)
        log.info("backup_snapshot_taken: %s at LSN %d", target.url, snapshot.lsn)
        if self._position is None:
            self._position = start
        self._next_snapshot = time.monotonic() + self._options.snapshot_interval_ms / 1000
        prune(target, Catalog.read(target), now_ms() - self._options.retention_ms)
