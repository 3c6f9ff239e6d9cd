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
from rivetq.storage.local.kv import CorruptStore, KVStore
from rivetq.storage.local.record import TYPE_CHANGES, CorruptWAL, Frame
from rivetq.storage.local.recovery import scan_log

__all__ = ["main", "verify_data_dir"]

log = logging.getLogger("rivetq.storage.verify")


def verify_data_dir(data_dir: Path) -> list[str]:
    if not data_dir.is_dir():
        return [f"{data_dir} is not a directory"]
    problems: list[str] = []
    applied_lsn = _check_kv(data_dir / "kv", problems)
    if applied_lsn is None:
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

    try:
        found = scan_log(data_dir / "wal", after_lsn=applied_lsn, replay=check_record)
    except CorruptWAL as error:
        return [*problems, str(error)]
    except OSError as error:  # an unreadable segment, or a log directory that cannot be listed
        return [*problems, f"WAL cannot be read: {error}"]
    for path, cut_at, damage_at, reason in found.torn:
        log.warning(
            "note: torn tail in %s at offset %d (%s); startup cuts it back to %d", path, damage_at, reason, cut_at
        )
    return problems + bad_bodies


def _check_kv(path: Path, problems: list[str]) -> int | None:
    """The checkpoint's LSN, after decoding every job record; None if unreadable."""
    if not (path / "data.mdb").exists():
        return 0  # never checkpointed: the whole WAL is checked
    try:
        store = KVStore(path, map_size=1 << 20, readonly=True)
    except CorruptStore as error:
        problems.append(str(error))
        return None
    try:
        for key, value in store.scan(META):
            try:
                meta_decoder.decode(value)
            except msgspec.DecodeError as error:
                problems.append(f"KV record {key!r} does not decode: {error}")
        return store.applied_lsn()
    except lmdb.Error as error:
        problems.append(f"KV store {path} is damaged: {error}")
        return None
    finally:
        store.close()


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
