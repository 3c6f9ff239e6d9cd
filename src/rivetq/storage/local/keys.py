"""Expiry of idempotency keys. Each key record has a time-index entry
``t + recorded_at_ms (8 bytes, big-endian) + key record's key``, so the keys older
than the dedup window are found by one ordered LMDB range read, without holding any
of them in memory."""

from __future__ import annotations

from rivetq.storage.local.codec import idempotency_decoder
from rivetq.storage.local.kv import KVStore
from rivetq.storage.local.layers import Txn

__all__ = ["expired_time_keys", "forget", "time_key"]

_TIME = b"t"


def time_key(recorded_at_ms: int, record_key: bytes) -> bytes:
    return _TIME + recorded_at_ms.to_bytes(8, "big") + record_key


def expired_time_keys(store: KVStore, cutoff_ms: int, limit: int, after: bytes = b"") -> list[bytes]:
    """Up to ``limit`` checkpointed time-index entries recorded at or before ``cutoff_ms``
    (after the entry ``after``, when given)."""
    found: list[bytes] = []
    for key, _ in store.scan(_TIME, after):
        if int.from_bytes(key[1:9], "big") > cutoff_ms or len(found) >= limit:
            break
        found.append(key)
    return found


def forget(txn: Txn, stale: list[bytes]) -> int:
    """Delete the key records the entries point at (unless re-recorded since) and the
    entries themselves; returns how many key records went."""
    forgotten = 0
    for entry in stale:
        record_key = entry[9:]
        raw = txn.get(record_key)
        if raw is not None and idempotency_decoder.decode(raw).recorded_at_ms == int.from_bytes(entry[1:9], "big"):
            txn.put(record_key, None)
            forgotten += 1
        if txn.get(entry) is not None:
            txn.put(entry, None)
    return forgotten
