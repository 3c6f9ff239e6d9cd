"""Settings of continuous shipping and online backups (built from ``backup.*``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rivetq.settings import BackupSettings

__all__ = ["BackupOptions", "backup_options"]


@dataclass(frozen=True)
class BackupOptions:
    url: str = ""  # where the log is shipped; "" ships nothing (online backups still work)
    endpoint: str = ""  # an S3-compatible store's URL; "": AWS
    region: str = ""
    interval_ms: int = 1_000  # how often the durable log is shipped: the loss window's target
    ship_bytes: int = 8 << 20  # ... or as soon as this much durable log waits
    snapshot_interval_ms: int = 3_600_000
    retention_ms: int = 7 * 86_400_000
    max_unshipped_bytes: int = 1 << 30  # past this much WAL, checkpoints delete unshipped segments


def backup_options(settings: BackupSettings) -> BackupOptions:
    return BackupOptions(
        url=settings.url,
        endpoint=settings.endpoint,
        region=settings.region,
        interval_ms=settings.interval_ms,
        ship_bytes=settings.ship_bytes,
        snapshot_interval_ms=settings.snapshot_interval_ms,
        retention_ms=settings.retention_ms,
        max_unshipped_bytes=settings.max_unshipped,
    )
