"""The embedded storage engine: a segmented WAL with group commit, LMDB with
checkpoints, in-memory indexes rebuilt at startup."""

from __future__ import annotations

from rivetq.storage.local.backend import LocalStorage
from rivetq.storage.local.lock import DataDirLocked
from rivetq.storage.local.options import LocalOptions
from rivetq.storage.local.record import CorruptWAL

__all__ = ["CorruptWAL", "DataDirLocked", "LocalOptions", "LocalStorage"]
