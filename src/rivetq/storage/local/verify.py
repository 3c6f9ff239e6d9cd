"""Check a data directory without opening it for writes.

``verify_data_dir(path)`` returns human-readable problems (empty: clean).
``check_data_dir(path, force=...)`` first makes sure the path is a data directory (a
store in ``kv/`` or segments in ``wal/``; else ``NotADataDir``: a backup directory, an
empty one or a typo is not "intact"), then asks whether a running server holds it: its
log and store change while they are read, so the check refuses (``DataDirInUse``)
unless forced, and then says it checked a moving target. Both are ``NotChecked``. Its
``VerifyReport.lines()`` are what both entry points print, ``rivetqctl wal verify`` and
``python -m rivetq.storage.local.verify [--force] DATA_DIR``: exit 0 intact, 1 damaged,
2 not checked. A torn tail (which startup cuts off with a warning) is a note, not damage.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import lmdb
import msgspec

from rivetq.storage.local.codec import META, decode_changes, meta_decoder
from rivetq.storage.local.kv import DATA_FILE, CorruptStore, KVStore, LostStore, check_store_file, describe_key
from rivetq.storage.local.kv_format import META_PREFIX
from rivetq.storage.local.lock import DataDirLocked, lock_holder
from rivetq.storage.local.record import TYPE_CHANGES, CorruptWAL, Frame
from rivetq.storage.local.recovery import scan_log
from rivetq.storage.local.segment import list_segments

__all__ = [
    "EXIT_NOT_CHECKED",
    "DataDirInUse",
    "NotADataDir",
    "NotChecked",
    "VerifyReport",
    "check_data_dir",
    "main",
    "verify_data_dir",
]

log = logging.getLogger("rivetq.storage.verify")
EXIT_NOT_CHECKED = 2
_DESCRIPTION = "Check a stopped server's data directory: exit 0 intact, 1 damaged, 2 not checked."


class NotChecked(Exception):
    """The check did not run (exit 2); the message says why."""


class DataDirInUse(DataDirLocked, NotChecked):
    """A running server holds the directory, and the check was not forced."""


class NotADataDir(NotChecked):
    """The path is no data directory: missing, not a directory, or holding neither a
    key-value store nor a WAL segment (a backup directory, for one)."""


@dataclass(frozen=True)
class VerifyReport:
    data_dir: Path
    problems: list[str]
    in_use_by: str | None  # the process holding the directory during a forced check

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def lines(self) -> list[str]:
        return self.problems or [f"ok: {self.data_dir} is intact"]


def check_data_dir(data_dir: Path, *, force: bool) -> VerifyReport:
    """``verify_data_dir``, unless the path is no data directory (``NotADataDir``) or a
    running server holds it and ``force`` is not set (``DataDirInUse``); a forced check
    of a held directory logs a note."""
    _require_data_dir(data_dir)
    holder = lock_holder(data_dir)
    if holder is not None:
        in_use = f"{data_dir} is in use by a running server{f' (process {holder})' if holder else ''}"
        if not force:
            raise DataDirInUse(
                f"{in_use}: its log and store change while they are read, so a check could report damage "
                "that is not there. Stop the server first, or pass --force to check a moving target."
            )
        log.warning("note: %s: this checks a moving target; a problem found may be a write in progress", in_use)
    return VerifyReport(data_dir, verify_data_dir(data_dir), holder)


def _require_data_dir(path: Path) -> None:
    if not path.exists():
        raise NotADataDir(f"{path} does not exist: not checked")
    if not path.is_dir():
        raise NotADataDir(f"{path} is not a directory: not checked")
    if (path / "kv").is_dir() or _holds_segments(path / "wal"):
        return
    if (path / "snapshots").is_dir():
        raise NotADataDir(
            f"{path} is not a data directory but a backup (snapshots/, wal/<LSN>/ pieces): not checked. "
            f"Restore it with `rivetqd restore {path} --data-dir NEW_DIR`, which verifies what it restores"
        )
    raise NotADataDir(
        f"{path} is not a data directory (no key-value store in kv/, no WAL segment in wal/): not checked"
    )


def _holds_segments(wal_dir: Path) -> bool:
    try:
        return bool(list_segments(wal_dir))
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True  # a log directory that cannot be listed: the check reports it


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
    except (CorruptWAL, CorruptStore) as error:  # CorruptStore: a store created anew beside a checkpointed log
        return [*problems, str(error)]
    except OSError as error:  # an unreadable segment, or a log directory that cannot be listed
        return [*problems, _unreadable_log(error)]
    for path, cut_at, damage_at, reason in found.torn:
        log.warning(
            "note: torn tail in %s at offset %d (%s); startup cuts it back to %d", path, damage_at, reason, cut_at
        )
    return problems + bad_bodies


def _check_kv(path: Path, problems: list[str]) -> tuple[int, tuple[int, int] | None] | None:
    """The checkpoint's LSN and newest WAL segment, after checking every record (its
    checksum, each job's metadata decoding, each table's record count); None if the
    store cannot be read (or is lost: missing or empty beside a checkpointed log)."""
    try:
        check_store_file(path)
    except LostStore as error:
        problems.append(str(error))
        return None
    except OSError as error:
        problems.append(_unreadable_log(error))
        return None
    data_file = path / DATA_FILE
    if not data_file.exists() or data_file.stat().st_size == 0:
        return 0, None  # never checkpointed (or emptied): the whole WAL must be there, from record 1
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


def _unreadable_log(error: OSError) -> str:
    return f"WAL cannot be read: {error}"


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
    parser = argparse.ArgumentParser(prog="python -m rivetq.storage.local.verify", description=_DESCRIPTION)
    parser.add_argument("data_dir", type=Path, metavar="DATA_DIR", help="the server's storage.data_dir")
    parser.add_argument("--force", action="store_true", help="check even while a running server holds it")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        report = check_data_dir(args.data_dir, force=args.force)
    except NotChecked as error:
        print(error, file=sys.stderr)
        return EXIT_NOT_CHECKED
    print("\n".join(report.lines()))
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
