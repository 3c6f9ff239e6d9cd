"""What the key-value store's record checks cost on the hot path (a short run).

    .venv/bin/python bench/kv_checks.py [--jobs 100000] [--rounds 5]

Checkpoints ``--jobs`` jobs into LMDB, then times random point reads of job metadata and
payloads (a lease reads both, an ack the metadata) through ``KVStore.get`` (CRC32C over
key and value checked) against raw LMDB gets of the same records, alternating the two
``--rounds`` times; and times ``SpaceGuard.check`` (called once per enqueue).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import lmdb

from rivetq.models import NewJob
from rivetq.storage.local import LocalOptions, LocalStorage
from rivetq.storage.local.codec import meta_key, payload_key
from rivetq.storage.local.fileio import FileIO
from rivetq.storage.local.kv import KVStore
from rivetq.storage.local.space import SpaceGuard

PAYLOAD = b'{"task": "send_email", "to": "user@example.com", "template": "welcome", "attempt": 1}'
T0 = 1_700_000_000_000


async def fill(data_dir: Path, jobs: int) -> list[str]:
    storage = LocalStorage(LocalOptions(data_dir=data_dir, fsync=False))
    await storage.open()
    ids = [f"job-{n:09d}" for n in range(jobs)]
    for start in range(0, jobs, 1000):
        batch = [NewJob(id=i, payload=PAYLOAD, priority=5, eta_ms=T0, max_retries=3) for i in ids[start : start + 1000]]
        await storage.insert("bench", batch, now_ms=T0, dedup_window_ms=0)
    await storage.close()  # checkpoints every job into LMDB
    return ids


def per_call_ns(action: Callable[[bytes], object], keys: list[bytes]) -> float:
    began = time.perf_counter_ns()
    for key in keys:
        action(key)
    return (time.perf_counter_ns() - began) / len(keys)


def raw_get(env: lmdb.Environment) -> Callable[[bytes], object]:
    def get(key: bytes) -> object:
        with env.begin(buffers=False) as txn:
            return txn.get(key)

    return get


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        data_dir = Path(temp)
        ids = asyncio.run(fill(data_dir, args.jobs))
        sample = random.Random(1).sample(ids, min(len(ids), 50_000))
        keys = [meta_key(i) for i in sample] + [payload_key(i) for i in sample]
        store = KVStore(data_dir / "kv", map_size=1 << 30, readonly=True)
        env = store._env  # the same environment, read without the check
        checked, raw = [], []
        for _ in range(args.rounds):
            checked.append(per_call_ns(store.get, keys))
            raw.append(per_call_ns(raw_get(env), keys))
        checked_ns, raw_ns = statistics.median(checked), statistics.median(raw)
        print(f"point get, checked (KVStore.get): {checked_ns:7.0f} ns")
        print(f"point get, raw LMDB:              {raw_ns:7.0f} ns")
        print(f"check cost per read:              {checked_ns - raw_ns:7.0f} ns (lease: 2 reads/job, ack: 1)")
        guard = SpaceGuard(FileIO(), data_dir, reserve_bytes=1 << 20, low_water_bytes=1 << 20, on_alarm=lambda: None)
        guard.open()
        calls = 200_000
        began = time.perf_counter_ns()
        for _ in range(calls):
            guard.check()
        print(f"SpaceGuard.check per enqueue:     {(time.perf_counter_ns() - began) / calls:7.0f} ns")


if __name__ == "__main__":
    main()
