"""The LMDB store under ``<data_dir>/kv``: one flat key space (keys carry a one-byte
table prefix, see ``codec``). Written only by checkpoints, each one synced
transaction that also records the WAL LSN it covers."""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from pathlib import Path

import lmdb

from rivetq.errors import RivetQError, StorageUnavailable

__all__ = ["APPLIED_LSN_KEY", "CorruptStore", "KVStore"]

APPLIED_LSN_KEY = b"\x00applied_lsn"
_U64 = struct.Struct("<Q")


class CorruptStore(RivetQError):
    """The key-value store cannot be opened or read: damaged, truncated, or not writable."""

    code = "storage_corrupt"

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"key-value store {path}: {reason}")


class KVStore:
    def __init__(self, path: Path, *, map_size: int, readonly: bool = False) -> None:
        if not readonly:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            self._env = lmdb.open(
                str(path),
                map_size=map_size,
                readonly=readonly,
                lock=not readonly,
                sync=True,
                metasync=True,
                readahead=False,
                max_readers=64,
                mode=0o600,
            )
        except lmdb.Error as error:
            raise CorruptStore(path, f"cannot be opened: {error}") from None
        self._check_size(path / "data.mdb")

    def _check_size(self, data_file: Path) -> None:
        """LMDB maps the file: reading a page past a truncated end kills the process with
        SIGBUS, before any error could name the file."""
        needed = (self._env.info()["last_pgno"] + 1) * self._env.stat()["psize"]
        actual = data_file.stat().st_size
        if actual < needed:
            self._env.close()
            raise CorruptStore(
                data_file.parent, f"{data_file} is truncated: {actual} bytes of the {needed} its pages take"
            )

    def close(self) -> None:
        self._env.close()

    def get(self, key: bytes) -> bytes | None:
        with self._env.begin(buffers=False) as txn:
            value: bytes | None = txn.get(key)
            return value

    def applied_lsn(self) -> int:
        raw = self.get(APPLIED_LSN_KEY)
        return 0 if raw is None else int(_U64.unpack(raw)[0])

    def scan(self, prefix: bytes, after: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) whose key starts with ``prefix``, in key order (those after
        ``after`` only, when given)."""
        with self._env.begin(buffers=False) as txn:
            cursor = txn.cursor()
            if not cursor.set_range(max(prefix, after)):
                return
            for key, value in cursor:
                if not key.startswith(prefix):
                    return
                if key != after:
                    yield key, value

    def write(self, changes: Mapping[bytes, bytes | None], applied_lsn: int) -> None:
        """Apply ``changes`` (None deletes) and record ``applied_lsn`` in one synced
        transaction (called from a thread: LMDB releases the GIL while it syncs)."""
        try:
            with self._env.begin(write=True) as txn:
                for key, value in changes.items():
                    if value is None:
                        txn.delete(key)
                    else:
                        txn.put(key, value)
                txn.put(APPLIED_LSN_KEY, _U64.pack(applied_lsn))
        except lmdb.Error as error:
            raise StorageUnavailable(f"checkpoint into LMDB failed: {error}") from error
