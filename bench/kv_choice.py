"""Why LMDB: the KV operations the engine does, on LMDB (``lmdb``) and RocksDB
(``rocksdict``, installed only for this comparison: ``.venv/bin/pip install rocksdict``).

    .venv/bin/python bench/kv_choice.py [--keys 100000]

Measures batched puts (a checkpoint), random point gets (job reads), a full prefix
scan (recovery), reading the head of a key range after deleting most of it (a queue
after mass acks), and synced single-key commits.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import lmdb

VALUE = bytes(range(200))


class Store(Protocol):
    def put_batch(self, items: list[tuple[bytes, bytes]]) -> None: ...
    def delete_batch(self, keys: list[bytes]) -> None: ...
    def get(self, key: bytes) -> bytes | None: ...
    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]: ...
    def put_synced(self, key: bytes, value: bytes) -> None: ...
    def close(self) -> None: ...


class LmdbStore:
    def __init__(self, path: Path) -> None:
        self.env = lmdb.open(str(path), map_size=1 << 34, sync=True, readahead=False)

    def put_batch(self, items: list[tuple[bytes, bytes]]) -> None:
        with self.env.begin(write=True) as txn:
            for key, value in items:
                txn.put(key, value)

    def delete_batch(self, keys: list[bytes]) -> None:
        with self.env.begin(write=True) as txn:
            for key in keys:
                txn.delete(key)

    def get(self, key: bytes) -> bytes | None:
        with self.env.begin() as txn:
            value: bytes | None = txn.get(key)
            return value

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        with self.env.begin() as txn:
            cursor = txn.cursor()
            cursor.set_range(prefix)
            for key, value in cursor:
                if not key.startswith(prefix):
                    return
                yield key, value

    def put_synced(self, key: bytes, value: bytes) -> None:
        with self.env.begin(write=True) as txn:
            txn.put(key, value)

    def close(self) -> None:
        self.env.close()


class RocksStore:
    def __init__(self, path: Path) -> None:
        import rocksdict

        self.rocksdict = rocksdict
        self.db = rocksdict.Rdict(str(path), options=rocksdict.Options(raw_mode=True))
        self.synced = rocksdict.WriteOptions()
        self.synced.sync = True

    def put_batch(self, items: list[tuple[bytes, bytes]]) -> None:
        batch = self.rocksdict.WriteBatch(raw_mode=True)
        for key, value in items:
            batch.put(key, value)
        self.db.write(batch)

    def delete_batch(self, keys: list[bytes]) -> None:
        batch = self.rocksdict.WriteBatch(raw_mode=True)
        for key in keys:
            batch.delete(key)
        self.db.write(batch)

    def get(self, key: bytes) -> bytes | None:
        value: bytes | None = self.db.get(key)
        return value

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        for key, value in self.db.items(from_key=prefix):
            if not key.startswith(prefix):
                return
            yield key, value

    def put_synced(self, key: bytes, value: bytes) -> None:
        self.db.put(key, value, self.synced)

    def close(self) -> None:
        self.db.close()


def timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def first_key(store: Store, prefix: bytes) -> bytes | None:
    return next((key for key, _ in store.scan(prefix)), None)


def measure(name: str, store: Store, keys: int) -> None:
    names = [b"m%012d" % n for n in range(keys)]
    put_s = sum(
        timed(lambda i=i: store.put_batch([(k, VALUE) for k in names[i : i + 1000]])) for i in range(0, keys, 1000)
    )
    sample = random.Random(1).sample(names, min(keys, 50_000))
    get_s = timed(lambda: [store.get(key) for key in sample])
    scan_s = timed(lambda: sum(1 for _ in store.scan(b"m")))
    store.delete_batch(names[: keys * 9 // 10])
    head_s = timed(lambda: [first_key(store, b"m") for _ in range(100)]) / 100
    synced_s = timed(lambda: [store.put_synced(b"s%04d" % n, VALUE) for n in range(200)]) / 200
    print(
        f"{name:>7} {keys / put_s:>13,.0f} {len(sample) / get_s:>10,.0f} {keys / scan_s:>11,.0f}"
        f" {head_s * 1000:>16.3f} {1 / synced_s:>12,.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=100_000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="rivetq-kv-"))
    print(f"{'store':>7} {'batch puts/s':>13} {'gets/s':>10} {'scan rows/s':>11}", end="")
    print(f" {'head after 90% del':>16} {'synced put/s':>12}")
    print(f"{'':>7} {'':>13} {'':>10} {'':>11} {'(ms)':>16} {'':>12}")
    try:
        for name, opener in (("lmdb", LmdbStore), ("rocksdb", RocksStore)):
            try:
                store: Store = opener(root / name)
            except ImportError:
                print(f"{name:>7} not installed (.venv/bin/pip install rocksdict)")
                continue
            measure(name, store, args.keys)
            store.close()
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
