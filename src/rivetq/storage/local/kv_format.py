"""How the key-value store keeps its records checkable.

Every value is stored as ``[crc32c u32][value]``, the CRC taken over the key and the
value, so a damaged value, or a value found under a damaged key, is caught on read.
Beside the records the store keeps (under ``\\x00`` keys, checksummed too) the number of
records per table (the first byte of a key), so a scan of a whole table that comes up
short (a damaged branch page hides a subtree) is caught as well, and the format
version. Stores written before checksums existed are rewritten once on open.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import google_crc32c
import msgspec

__all__ = [
    "APPLIED_LSN_KEY",
    "COUNTS_KEY",
    "FORMAT_KEY",
    "FORMAT_VERSION",
    "META_PREFIX",
    "ORDER_BUILT_UP_TO_KEY",
    "ORDER_KEYS_KEY",
    "UPGRADED_UP_TO_KEY",
    "WAL_TAIL_KEY",
    "check_value",
    "count_tables",
    "decode_counts",
    "decode_tail",
    "encode_counts",
    "encode_tail",
    "seal_value",
]

META_PREFIX = b"\x00"
APPLIED_LSN_KEY = b"\x00applied_lsn"
COUNTS_KEY = b"\x00counts"
FORMAT_KEY = b"\x00format"
WAL_TAIL_KEY = b"\x00wal_tail"  # first LSN and size of the newest WAL segment at the last checkpoint
FORMAT_VERSION = b"2"  # stored raw: it says how to read everything else
ORDER_KEYS_KEY = b"\x00order_keys"  # present once every job's order keys are in the store
ORDER_BUILT_UP_TO_KEY = b"\x00order_built_up_to"  # the last job record given its order keys while building them
UPGRADED_UP_TO_KEY = b"\x00upgraded_up_to"  # raw: the last key checksummed while upgrading an old store
_CRC = struct.Struct("<I")
_TAIL = struct.Struct("<QQ")
_counts_decoder = msgspec.msgpack.Decoder(dict[int, int])


_crc_of = google_crc32c.value
_crc_extend = google_crc32c.extend
_unpack_crc = _CRC.unpack_from


def seal_value(key: bytes, value: bytes) -> bytes:
    return _CRC.pack(_crc_extend(_crc_of(key), value)) + value


def check_value(key: bytes, stored: bytes) -> bytes | None:
    """The value, or None when the stored bytes fail their checksum (on every read from
    LMDB: module-level names, one call, no helper; measured in bench/kv_checks.py)."""
    value = stored[4:]
    if len(stored) < 4 or _unpack_crc(stored)[0] != _crc_extend(_crc_of(key), value):
        return None
    return value


def encode_counts(counts: dict[int, int]) -> bytes:
    return msgspec.msgpack.encode({table: n for table, n in counts.items() if n})


def decode_counts(raw: bytes) -> dict[int, int]:
    return _counts_decoder.decode(raw)


def encode_tail(first_lsn: int, size: int) -> bytes:
    return _TAIL.pack(first_lsn, size)


def decode_tail(raw: bytes) -> tuple[int, int]:
    first, size = _TAIL.unpack(raw)
    return int(first), int(size)


def count_tables(keys: Iterator[bytes]) -> dict[int, int]:
    """Records per table (a key's first byte), the store's own ``\x00`` records left out."""
    counts: dict[int, int] = {}
    for key in keys:
        if not key.startswith(META_PREFIX):
            counts[key[0]] = counts.get(key[0], 0) + 1
    return counts
