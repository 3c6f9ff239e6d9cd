"""Check a data directory without opening it for writes.

``verify_data_dir(path)`` returns human-readable problems (empty: clean). As a tool:
``python -m rivetq.storage.local.verify DATA_DIR`` prints them and exits 1 on damage.
A torn tail (which startup cuts off with a warning) is reported as a note, not damage.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import lmdb
import msgspec

from rivetq.storage.local.codec import META, decode_changes, meta_decoder
from rivetq.storage.local.kv import CorruptStore, KVStore, describe_key
from rivetq.storage.local.kv_format import META_PREFIX
from rivetq.storage.local.record import TYPE_CHANGES, CorruptWAL, Frame
from rivetq.storage.local.recovery import scan_log

__all__ = ["main", "verify_data_dir"]

log = logging.getLogger("rivetq.storage.verify")


def verify_data_dir(data_dir: Path) -> list[str]:
    if not data_dir.is_dir():
        return [f"{data_dir} is not a directory"]
    problems: list[str] = []
    checkpoint = _check_kv(data_dir / "kv", problems)
    if checkpoint is None:
        return problems
    bad_bodies: list[str] = []

    def check_record(lsn: int, frame: Frame) -> None:
        if frame.rtype != TYPE_CHANGES:
            bad_bodies.append(f"WAL record {lsn} has unknown type {frame.rtype}")
            return
        try:
            decode_changes(frame.body)
        except msgspec.DecodeError as error:
            bad_bodies.append(f"WAL record {lsn} does not decode: {error}")

    applied_lsn, wal_tail = checkpoint
    try:
        found = scan_log(data_dir / "wal", after_lsn=applied_lsn, replay=check_record, wal_tail=wal_tail)
    except CorruptWAL as error:
        return [*problems, str(error)]
    except OSError as error:  # an unreadable segment, or a log directory that cannot be listed
        return [*problems, f"WAL cannot be read: {error}"]
    for path, cut_at, damage_at, reason in found.torn:
        log.warning(
            "note: torn tail in %s at offset %d (%s); startup cuts it back to %d", path, damage_at, reason, cut_at
        )
    return problems + bad_bodies


def _check_kv(path: Path, problems: list[str]) -> tuple[int, tuple[int, int] | None] | None:
    """The checkpoint's LSN and newest WAL segment, after checking every record (its
    checksum, each job's metadata decoding, each table's record count); None if the
    store cannot be read."""
    data_file = path / "data.mdb"
    if not data_file.exists() or data_file.stat().st_size == 0:
        return 0, None  # never checkpointed (or emptied): the whole WAL must be there
    try:
        store = KVStore(path, map_size=1 << 20, readonly=True)
    except CorruptStore as error:
        problems.append(str(error))
        return None
    try:
        if not store.checksummed:
            log.warning("note: %s predates record checksums (added when rivetqd next opens it)", path)
        _check_records(store, problems)
        return store.applied_lsn(), store.wal_tail()
    except (lmdb.Error, CorruptStore) as error:
        problems.append(f"key-value store {path} is damaged: {error}")
        return None
    finally:
        store.close()


def _check_records(store: KVStore, problems: list[str]) -> None:
    counts: dict[int, int] = {}
    for key, intact in store.walk():
        if not key.startswith(META_PREFIX):
            counts[key[0]] = counts.get(key[0], 0) + 1
        if not intact:
            problems.append(f"key-value store {store.path}: the record of {describe_key(key)} fails its checksum")
        elif key.startswith(META):
            _check_meta(store, key, problems)
    for table in sorted(set(counts) | set(store.counts)) if store.checksummed else ():
        found, written = counts.get(table, 0), store.counts.get(table, 0)
        if found != written:
            problems.append(
                f"key-value store {store.path}: table {bytes([table])!r} has {found} records, {written} were written"
            )


def _check_meta(store: KVStore, key: bytes, problems: list[str]) -> None:
    try:
        meta_decoder.decode(store.get(key) or b"")
    except msgspec.DecodeError as error:
        problems.append(f"key-value store {store.path}: the record of {describe_key(key)} does not decode: {error}")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m rivetq.storage.local.verify DATA_DIR", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    problems = verify_data_dir(Path(args[0]))
    for problem in problems:
        print(problem)
    if not problems:
        print(f"{args[0]}: OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
