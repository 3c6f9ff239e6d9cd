"""A data dir written before the order keys existed (``data/pre-order-keys.tar.gz``,
written by the engine of commit f5120e9: two queues, ready, delayed, leased and dead jobs
in LMDB, and more changes in the WAL only) gets its order keys built once at open,
resumably, and then answers exactly as that engine did (its answers are recorded here)."""

from __future__ import annotations

import tarfile
from itertools import count
from pathlib import Path

from rivetq.models import JobState
from rivetq.storage.local import LocalOptions, LocalStorage
from rivetq.storage.local.kv import KVStore
from rivetq.storage.local.order_build import build_batch
from rivetq.storage.local.verify import verify_data_dir

ARCHIVE = Path(__file__).parent / "data" / "pre-order-keys.tar.gz"
T0 = 1_700_000_000_000
NOW = T0 + 8


def _ids(*numbers: int) -> list[str]:
    return [f"job-{n:03d}" for n in numbers]


# What the engine before order keys answered on this data dir.
STATS = {"a": (28, 5, 1, 1), "b": (6, 1, 1, 0)}
LISTED = {
    ("a", JobState.DELAYED): _ids(100, 101, 102, 103, 104),
    ("a", JobState.READY): _ids(*(n for n in range(30) if n not in (9, 19))),
    ("a", JobState.INFLIGHT): _ids(9),
    ("a", JobState.DEAD): _ids(19),
    ("b", JobState.DELAYED): _ids(301),
    ("b", JobState.READY): _ids(200, 201, 202, 203, 204, 303),
    ("b", JobState.INFLIGHT): _ids(302),
    ("b", JobState.DEAD): [],
}
NEXT_ETA = {"a": 1_700_010_000_000, "b": 1_700_020_000_000}
# Priority n % 10 (9 first), then seq; job-009 is leased, job-019 dead.
LEASE_ORDER = _ids(*(n for p in range(9, -1, -1) for n in range(30) if n % 10 == p and n not in (9, 19)))


def _unpacked(tmp_path: Path) -> Path:
    with tarfile.open(ARCHIVE) as archive:
        archive.extractall(tmp_path, filter="data")
    return tmp_path / "data"


async def _answers_as_before(data_dir: Path) -> None:
    storage = LocalStorage(LocalOptions(data_dir=data_dir, segment_size=1 << 20, fsync=False))
    await storage.open()
    try:
        for queue, (ready, delayed, inflight, dead) in STATS.items():
            stats = await storage.stats(queue, now_ms=NOW)
            assert stats is not None and (stats.ready, stats.delayed, stats.inflight, stats.dlq) == (
                ready,
                delayed,
                inflight,
                dead,
            )
            assert await storage.next_eta_ms(queue, now_ms=NOW) == NEXT_ETA[queue]
        for (queue, state), ids in LISTED.items():
            page = await storage.list_jobs(queue, state=state, limit=100, cursor=None, now_ms=NOW)
            assert [job.id for job in page.jobs] == ids, (queue, state)
        expired = await storage.expired_leases(now_ms=T0 + 100_000, limit=10)
        assert [job.id for job in expired] == _ids(9, 302)
        numbers = count()
        leased = await storage.lease(
            "a", max_jobs=100, visibility_ms=1000, now_ms=NOW, new_lease_id=lambda: f"L{next(numbers)}"
        )
        assert [job.id for job in leased.jobs] == LEASE_ORDER
    finally:
        await storage.close()
    assert verify_data_dir(data_dir) == []


async def test_an_old_data_dir_gets_its_order_keys_and_answers_as_before(tmp_path: Path) -> None:
    await _answers_as_before(_unpacked(tmp_path))


async def test_a_build_cut_short_resumes_without_counting_twice(tmp_path: Path) -> None:
    data_dir = _unpacked(tmp_path)
    store = KVStore(data_dir / "kv", map_size=1 << 30)
    try:
        assert build_batch(store, 7) == 7  # then a crash: the next open goes on from there
    finally:
        store.close()
    await _answers_as_before(data_dir)
