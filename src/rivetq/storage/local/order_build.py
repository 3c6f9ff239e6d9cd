"""The one-time build of the order keys of a store written before they existed: every
job's order keys and every queue's counts, from the ``m`` records, in transactions of a
bounded size (a store may not fit in memory or in one transaction), each recording the
last record it did, so a crash resumes instead of counting twice. Runs at open, before
the WAL replay (which then keeps the keys up to date like any later change)."""

from __future__ import annotations

import itertools
import logging

from rivetq.storage.local.codec import META, JobMeta, meta_decoder
from rivetq.storage.local.kv import KVStore
from rivetq.storage.local.kv_format import ORDER_BUILT_UP_TO_KEY, ORDER_KEYS_KEY
from rivetq.storage.local.order import Counts, count_key, order_keys

__all__ = ["build_batch", "build_order_keys"]

log = logging.getLogger("rivetq.storage.local")
_BATCH = 10_000


def build_order_keys(store: KVStore, batch: int = _BATCH) -> None:
    if store.get(ORDER_KEYS_KEY) is not None:
        return
    built = 0
    while (done := build_batch(store, batch)) > 0:
        built += done
    store.write({ORDER_KEYS_KEY: b"1", ORDER_BUILT_UP_TO_KEY: None}, store.applied_lsn())
    if built:
        log.warning("key-value store %s: built the order keys of its %d jobs", store.path, built)


def build_batch(store: KVStore, batch: int) -> int:
    """Give up to ``batch`` more jobs their order keys; how many it did (0 at the end)."""
    metas = _metas_after(store, store.get(ORDER_BUILT_UP_TO_KEY) or b"", batch)
    if not metas:
        return 0
    changes: dict[bytes, bytes | None] = {}
    counts: dict[str, Counts] = {}
    for key, meta in metas:
        changes.update(dict.fromkeys(order_keys(key[1:].decode(), meta), b""))
        queue = counts.get(meta.queue) or counts.setdefault(meta.queue, _stored_counts(store, meta.queue))
        queue.add(meta, 1)
    changes.update({count_key(name): queue.encode() for name, queue in counts.items()})
    changes[ORDER_BUILT_UP_TO_KEY] = metas[-1][0]
    store.write(changes, store.applied_lsn())
    return len(metas)


def _metas_after(store: KVStore, after: bytes, limit: int) -> list[tuple[bytes, JobMeta]]:
    records = itertools.islice(store.scan(META, after), limit)  # its read transaction ends with this call
    return [(key, meta_decoder.decode(value)) for key, value in records]


def _stored_counts(store: KVStore, queue: str) -> Counts:
    raw = store.get(count_key(queue))
    return Counts() if raw is None else Counts.decode(raw)
