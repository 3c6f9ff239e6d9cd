"""The LMDB store under ``<data_dir>/kv``: one flat key space (keys carry a one-byte
table prefix, see ``codec``). Written only by checkpoints, each one synced
transaction that also records the WAL LSN it covers and where the log then ended.
Every record is checksummed and checked on read (``kv_format``)."""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator, Mapping
from pathlib import Path

import lmdb

from rivetq.errors import StorageCorrupt, StorageUnavailable
from rivetq.storage.local.kv_format import (
    APPLIED_LSN_KEY,
    COUNTS_KEY,
    FORMAT_KEY,
    FORMAT_VERSION,
    META_PREFIX,
    UPGRADED_UP_TO_KEY,
    WAL_TAIL_KEY,
    check_value,
    count_tables,
    decode_counts,
    decode_tail,
    encode_counts,
    encode_tail,
    seal_value,
)
from rivetq.storage.local.segment import list_segments

__all__ = ["DATA_FILE", "CorruptStore", "KVStore", "LostStore", "check_store_file", "describe_key", "store_file_of"]

log = logging.getLogger("rivetq.storage.local")
_U64 = struct.Struct("<Q")
_LEGACY_LSN_BYTES = 8  # applied_lsn before checksums: a bare u64
_UPGRADE_BATCH = 10_000  # records per transaction when adding checksums to an old store
_UPGRADE_BATCH_BYTES = 64 << 20
DATA_FILE = "data.mdb"  # in <data_dir>/kv, beside the log in <data_dir>/wal


class CorruptStore(StorageCorrupt):
    """The key-value store cannot be opened or read: damaged, truncated, or not writable."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"key-value store {path}: {reason}")


class LostStore(CorruptStore):
    """The store's records are gone (its file missing, empty or created anew) while the log
    beside it was checkpointed: the records before its oldest segment were only in the
    store, so replaying the log would start an empty or partial server. No option starts
    from this: the way out is a backup (or, deliberately, a new data directory)."""

    def __init__(self, data_file: Path, state: str, oldest_segment: Path, first_lsn: int) -> None:
        super().__init__(
            data_file.parent,
            f"{data_file} is {state}, but the log beside it was checkpointed: its oldest segment "
            f"{oldest_segment.name} starts at record {first_lsn}, so records 1..{first_lsn - 1} are only in "
            "the store, and the log alone cannot rebuild the state. Nothing was changed. Put the file back if it "
            "was moved, or restore the data directory from a backup (rivetqd restore, see docs/backup.md); "
            "--accept-wal-loss does not apply (it would start an empty server)",
        )


def store_file_of(wal_dir: Path) -> Path:
    """The store file of the data directory whose log is ``wal_dir``."""
    return wal_dir.parent / "kv" / DATA_FILE


def check_store_file(kv_dir: Path) -> None:
    """Before LMDB opens (and would create) the store: a missing or empty store file is a
    new store only while the log beside it, if any, starts at record 1 (replay rebuilds
    everything); after a checkpoint deleted segments, it is ``LostStore``. The log
    directory is listed only when the file is missing or empty."""
    data_file = kv_dir / DATA_FILE
    state = _missing_or_empty(data_file)
    if state is None:
        return
    try:
        segments = list_segments(kv_dir.parent / "wal")
    except FileNotFoundError:
        return  # no log: a new data directory
    if segments and segments[0][0] > 1:
        first_lsn, oldest = segments[0]
        raise LostStore(data_file, state, oldest, first_lsn)


def _missing_or_empty(data_file: Path) -> str | None:
    try:
        size = data_file.stat().st_size
    except FileNotFoundError:
        return "missing"
    return "empty (0 bytes)" if size == 0 else None


def describe_key(key: bytes) -> str:
    """A record's key for people: ``job ID (metadata)``, ``queue NAME``, else its bytes."""
    names = {b"m": "job {} (metadata)", b"p": "job {} (payload)", b"q": "queue {}"}
    template = names.get(key[:1])
    return template.format(key[1:].decode(errors="replace")) if template else repr(key)


class KVStore:
    def __init__(self, path: Path, *, map_size: int, readonly: bool = False) -> None:
        if not readonly:
            check_store_file(path)
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
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
        self.checksummed = self._read_format(readonly)
        self._counts = decode_counts(self.get(COUNTS_KEY) or b"\x80") if self.checksummed else {}

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

    def _read_format(self, readonly: bool) -> bool:
        """True for a checksummed store; a store from before checksums is rewritten
        (or, read-only, read unchecked)."""
        with self._guard(), self._env.begin(buffers=False) as txn:
            version, applied = txn.get(FORMAT_KEY), txn.get(APPLIED_LSN_KEY)
            resume_after = txn.get(UPGRADED_UP_TO_KEY)
        if version == FORMAT_VERSION:
            return True
        legacy = version is None and (applied is None or len(applied) == _LEGACY_LSN_BYTES)
        if not legacy and resume_after is None:
            self._env.close()
            raise CorruptStore(self.path, f"unknown format {version!r} (its format record is damaged or newer)")
        if readonly and resume_after is not None:
            self._env.close()
            raise CorruptStore(self.path, "checksums are half added (rivetqd completes that on its next start)")
        if readonly:
            return False
        self._add_checksums(resume_after)
        return True

    def _add_checksums(self, after: bytes | None) -> None:
        """Rewrite a store from before checksums: every value checksummed, in transactions
        of a bounded size (a store may not fit in memory or in one transaction), each
        recording the last key it did, so a crash resumes instead of sealing twice; then
        the tables are counted and the format recorded."""
        upgraded = 0
        while (batch := self._seal_batch(after)) is not None:
            upgraded, after = upgraded + batch[0], batch[1]
        with self._guard(), self._env.begin(write=True) as txn:
            counts = count_tables(txn.cursor().iternext(keys=True, values=False))
            txn.put(COUNTS_KEY, seal_value(COUNTS_KEY, encode_counts(counts)))
            txn.put(FORMAT_KEY, FORMAT_VERSION)
            txn.delete(UPGRADED_UP_TO_KEY)
        if upgraded:
            log.warning("key-value store %s: added checksums to its %d records", self.path, upgraded)

    def _seal_batch(self, after: bytes | None) -> tuple[int, bytes] | None:
        """Checksum the records after ``after`` up to a batch's worth; (count, last key) or None at the end."""
        with self._guard(), self._env.begin(write=True, buffers=False) as txn:
            cursor = txn.cursor()
            found = cursor.set_range(after) if after is not None else cursor.first()
            records: list[tuple[bytes, bytes]] = []
            size = 0
            while found and len(records) < _UPGRADE_BATCH and size < _UPGRADE_BATCH_BYTES:
                key, value = cursor.item()
                if key not in (after, UPGRADED_UP_TO_KEY):
                    records.append((key, value))
                    size += len(value)
                found = cursor.next()
            for key, value in records:
                txn.put(key, seal_value(key, value))
            if not records:
                return None
            txn.put(UPGRADED_UP_TO_KEY, records[-1][0])
        return len(records), records[-1][0]

    def close(self) -> None:
        self._env.close()

    def copy_to(self, directory: Path) -> int:
        """A compact copy of the store as of one read transaction (writers go on) as
        ``directory/data.mdb``; returns the WAL LSN the copy holds every change up to."""
        try:
            self._env.copy(str(directory), compact=True)
        except lmdb.Error as error:
            raise StorageUnavailable(f"copying {self.path}: {error}") from error
        copy = KVStore(directory, map_size=1 << 20, readonly=True)
        try:
            return copy.applied_lsn()
        finally:
            copy.close()

    def _guard(self) -> _LmdbGuard:
        return _LmdbGuard(self.path)

    def _open_value(self, key: bytes, stored: bytes) -> bytes:
        if not self.checksummed:
            return stored
        value = check_value(key, stored)
        if value is None:
            log.error("storage_corrupt: %s in %s fails its checksum", describe_key(key), self.path)
            raise CorruptStore(self.path, f"the record of {describe_key(key)} fails its checksum")
        return value

    def get(self, key: bytes) -> bytes | None:
        try:  # not self._guard(): a context object per read costs ~0.3 µs on the hot path
            with self._env.begin(buffers=False) as txn:
                stored: bytes | None = txn.get(key)
        except lmdb.Error as error:
            raise _damaged(self.path, error) from None
        return None if stored is None else self._open_value(key, stored)

    def applied_lsn(self) -> int:
        raw = self.get(APPLIED_LSN_KEY)
        return 0 if raw is None else int(_U64.unpack(raw)[0])

    def wal_tail(self) -> tuple[int, int] | None:
        """(first LSN, size) of the newest WAL segment when the last checkpoint was taken."""
        raw = self.get(WAL_TAIL_KEY)
        return None if raw is None else decode_tail(raw)

    def scan(self, prefix: bytes, after: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) whose key starts with ``prefix``, in key order (those after
        ``after`` only, when given). A scan of a whole table checks it found them all."""
        whole_table = len(prefix) == 1 and not after and prefix != META_PREFIX and self.checksummed
        found = 0
        with self._guard(), self._env.begin(buffers=False) as txn:
            cursor = txn.cursor()
            if not cursor.set_range(max(prefix, after)):
                records: Iterator[tuple[bytes, bytes]] = iter(())
            else:
                records = iter(cursor)
            for key, stored in records:
                if not key.startswith(prefix):
                    break
                found += 1
                if key != after:
                    yield key, self._open_value(key, stored)
        expected = self._counts.get(prefix[0], 0)
        if whole_table and found != expected:
            log.error("storage_corrupt: %s has %d records in table %r, %d written", self.path, found, prefix, expected)
            raise CorruptStore(self.path, f"table {prefix!r} has {found} records, {expected} were written")

    def keys(self, prefix: bytes, start: bytes, limit: int) -> list[bytes]:
        """Up to ``limit`` keys with ``prefix``, from ``start`` on (a key at or after
        ``prefix``), in key order, each checked against its checksum (a damaged order key
        would otherwise point at the wrong job, and hide the right one)."""
        found: list[bytes] = []
        with self._guard(), self._env.begin(buffers=False) as txn:
            cursor = txn.cursor()
            if not cursor.set_range(start):
                return found
            for key, stored in cursor:
                if not key.startswith(prefix) or len(found) >= limit:
                    break
                self._open_value(key, stored)
                found.append(key)
        return found

    def walk(self) -> Iterator[tuple[bytes, bool]]:
        """Every record's key and whether it passes its checksum (for ``wal verify``)."""
        with self._guard(), self._env.begin(buffers=False) as txn:
            for key, stored in txn.cursor():
                yield key, key == FORMAT_KEY or not self.checksummed or check_value(key, stored) is not None

    @property
    def counts(self) -> dict[int, int]:
        """How many records each table (a key's first byte) holds, as written."""
        return dict(self._counts)

    def write(
        self, changes: Mapping[bytes, bytes | None], applied_lsn: int, wal_tail: tuple[int, int] | None = None
    ) -> None:
        """Apply ``changes`` (None deletes) and record ``applied_lsn`` (and the log's newest
        segment) in one synced transaction (called from a thread: LMDB releases the GIL
        while it syncs)."""
        counts = dict(self._counts)
        try:
            with self._env.begin(write=True) as txn:
                for key, value in changes.items():
                    delta = _apply(txn, key, value)
                    if not key.startswith(META_PREFIX):
                        counts[key[0]] = counts.get(key[0], 0) + delta
                self._put_meta(txn, APPLIED_LSN_KEY, _U64.pack(applied_lsn))
                self._put_meta(txn, COUNTS_KEY, encode_counts(counts))
                if wal_tail is not None:
                    self._put_meta(txn, WAL_TAIL_KEY, encode_tail(*wal_tail))
        except lmdb.Error as error:
            raise StorageUnavailable(f"checkpoint into LMDB failed: {error}") from error
        self._counts = counts

    def _put_meta(self, txn: lmdb.Transaction, key: bytes, value: bytes) -> None:
        txn.put(key, seal_value(key, value))


def _apply(txn: lmdb.Transaction, key: bytes, value: bytes | None) -> int:
    """Write or delete one record; returns the change in the table's record count."""
    if value is None:
        return -1 if txn.delete(key) else 0
    sealed = seal_value(key, value)
    if txn.put(key, sealed, overwrite=False):
        return 1
    txn.put(key, sealed)
    return 0


class _LmdbGuard:
    """Turns LMDB's own errors on reads (a damaged page) into a named ``CorruptStore``."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _tb: object) -> None:
        if isinstance(error, lmdb.Error):
            raise _damaged(self._path, error) from None


def _damaged(path: Path, error: lmdb.Error) -> CorruptStore:
    log.error("storage_corrupt: %s: %s", path, error)
    return CorruptStore(path, f"a page does not read back: {error}")
