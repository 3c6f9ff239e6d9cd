"""Property test: random operation sequences give the same results and the same
observable state on the in-memory reference backend and on the embedded engine,
with the engine checkpointed, or closed and reopened (recovery), at random points. The
engine reads only two order keys ahead (``order_window``), so its read windows refill,
and go stale at checkpoints, all the time."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable, Coroutine
from itertools import count
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rivetq.errors import RivetQError
from rivetq.models import JobState, QueueConfig, RateLimit
from rivetq.storage.base import Storage
from rivetq.storage.local import LocalOptions, LocalStorage
from rivetq.storage.memory import MemoryStorage
from tests.storage.contract_support import T0, new_job

QUEUES = ["q1", "q2"]
Op = tuple[Any, ...]

queues = st.sampled_from([QUEUES[0], QUEUES[0], QUEUES[0], QUEUES[1]])
picks = st.integers(0, 1000)
inserts = st.tuples(
    st.just("insert"),
    queues,
    st.lists(
        st.tuples(
            st.integers(0, 9),
            st.sampled_from([0, 0, 0, 1000, 3000]),
            st.sampled_from([None, "a", "b"]),
            st.integers(0, 2),
        ),
        min_size=1,
        max_size=3,
    ),
)
leases = st.tuples(st.just("lease"), queues, st.integers(1, 3), st.integers(500, 5000))
retries = st.tuples(st.just("retry"), picks, st.integers(0, 3000), st.booleans())
burials = st.tuples(st.just("bury"), picks, st.booleans())
BY_KIND: dict[str, st.SearchStrategy[Op]] = {
    "insert": inserts,
    "lease": leases,
    "ack": st.tuples(st.just("ack"), picks),
    "retry": retries,
    "bury": burials,
    "ack_batch": st.tuples(st.just("ack_batch"), st.lists(picks, max_size=3)),
    "extend": st.tuples(st.just("extend"), picks, st.integers(500, 5000)),
    "requeue": st.tuples(st.just("requeue"), queues, st.none() | st.lists(picks, max_size=3)),
    "delete": st.tuples(st.just("delete"), picks),
    "purge": st.tuples(st.sampled_from(["purge", "purge_dlq"]), queues),
    "config": st.tuples(
        st.just("config"),
        queues,
        st.sampled_from([False, False, False, True]),
        st.none() | st.tuples(st.integers(1, 3), st.sampled_from([0.5, 2.0])),
    ),
    "advance": st.tuples(st.just("advance"), st.integers(0, 4000)),
    "reopen": st.tuples(st.just("reopen")),
    "checkpoint": st.tuples(st.just("checkpoint")),
}
# How often each kind is drawn: mostly the job life cycle, now and then the rest.
WEIGHTS = {"insert": 6, "lease": 6, "ack": 2, "retry": 2, "bury": 2, "advance": 2, "reopen": 2, "checkpoint": 2}
ops = st.sampled_from([kind for kind in BY_KIND for _ in range(WEIGHTS.get(kind, 1))]).flatmap(BY_KIND.__getitem__)


class Scenario:
    """Both backends, the shared clock, and what the test knows of ids and leases."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.now = T0
        self.numbers = count(1)
        self.job_ids: list[str] = []
        self.leases: list[tuple[str, str]] = []
        self.lease_counters = {"memory": count(1), "local": count(1)}

    def pick_id(self, n: int) -> str:
        return self.job_ids[n % len(self.job_ids)] if self.job_ids else "none"

    def pick_lease(self, n: int) -> tuple[str, str]:
        """Mostly one of the newest leases (likely live), sometimes any older one."""
        if not self.leases:
            return ("none", "none")
        return self.leases[-1 - n % 3] if n % 4 and len(self.leases) >= 3 else self.leases[n % len(self.leases)]

    def lease_ids(self, backend: str) -> Callable[[], str]:
        """Ids ``lease-<call>-<n>``: a backend may draw more ids than it leases jobs (the
        PostgreSQL one sends them with its statement), so each call starts afresh."""
        call = next(self.lease_counters[backend])
        numbers = count(1)
        return lambda: f"lease-{call}-{next(numbers)}"

    def call(self, storage: Storage, backend: str, op: Op) -> Coroutine[Any, Any, Any]:  # noqa: C901
        now = self.now
        match op:
            case ("insert", queue, specs):
                jobs = [new_job(n, priority=p, eta_ms=now + d, key=k, max_retries=r) for n, (p, d, k, r) in specs]
                return storage.insert(queue, jobs, now_ms=now, dedup_window_ms=10_000)
            case ("lease", queue, max_jobs, visibility):
                return storage.lease(
                    queue, max_jobs=max_jobs, visibility_ms=visibility, now_ms=now, new_lease_id=self.lease_ids(backend)
                )
            case ("ack", n):
                return storage.ack(*self.pick_lease(n), now_ms=now)
            case ("ack_batch", ns):
                return storage.ack_batch([self.pick_lease(n) for n in ns], now_ms=now)
            case ("extend", n, visibility):
                return storage.extend(*self.pick_lease(n), expires_at_ms=now + visibility, now_ms=now)
            case ("retry", n, delay, expired):
                return storage.retry(*self.pick_lease(n), eta_ms=now + delay, error="e", now_ms=now, expired=expired)
            case ("bury", n, expired):
                return storage.bury(*self.pick_lease(n), error="dead", now_ms=now, expired=expired)
            case ("requeue", queue, ns):
                ids = None if ns is None else [self.pick_id(n) for n in ns]
                return storage.requeue(queue, ids, now_ms=now)
            case ("delete", n):
                return storage.delete(self.pick_id(n), now_ms=now)
            case ("purge", queue):
                return storage.purge(queue, now_ms=now)
            case ("purge_dlq", queue):
                return storage.purge_dlq(queue, now_ms=now)
            case ("config", queue, paused, limit):
                rate = None if limit is None else RateLimit(capacity=limit[0], refill_rate=limit[1])
                config = QueueConfig(paused=paused, rate_limit=rate)
                return storage.update_queue_config(queue, lambda _: config, now_ms=now)
        raise AssertionError(op)

    def number_jobs(self, op: Op) -> Op:
        if op[0] != "insert":
            return op
        numbered = [(next(self.numbers), spec) for spec in op[2]]
        self.job_ids.extend(f"0190a000-0000-7000-8000-{n:012x}" for n, _ in numbered)
        return (op[0], op[1], numbered)

    def learn(self, result: object) -> None:
        for job in getattr(result, "jobs", []):
            self.leases.append((job.id, job.lease_id))


async def outcome(call: Coroutine[Any, Any, Any]) -> object:
    try:
        return await call
    except RivetQError as error:
        return ("error", error.code)


async def observe(storage: Storage, now: int) -> object:
    seen: list[object] = [await storage.list_queues(now_ms=now), await storage.expired_leases(now_ms=now, limit=100)]
    for queue in QUEUES:
        for state in (None, *JobState):
            seen.append(await storage.list_jobs(queue, state=state, limit=1000, cursor=None, now_ms=now))
        seen.append(await storage.next_eta_ms(queue, now_ms=now))
        seen.append(await storage.get_queue_config(queue))
    return seen


def _local(data_dir: Path) -> LocalStorage:
    return LocalStorage(LocalOptions(data_dir=data_dir, segment_size=8192, fsync=False, order_window=2))


async def run(ops_list: list[Op], data_dir: Path) -> None:
    scenario = Scenario(data_dir)
    memory = MemoryStorage()
    local = _local(data_dir)
    await local.open()
    try:
        for raw in ops_list:
            if raw[0] == "advance":
                scenario.now += raw[1]
                continue
            if raw[0] == "reopen":
                await local.close()
                local = _local(data_dir)
                await local.open()
                continue
            if raw[0] == "checkpoint":
                await local.checkpoint()
                continue
            op = scenario.number_jobs(raw)
            expected = await outcome(scenario.call(memory, "memory", op))
            actual = await outcome(scenario.call(local, "local", op))
            assert actual == expected, f"{op}: local {actual!r} != memory {expected!r}"
            scenario.learn(expected)
            assert await observe(local, scenario.now) == await observe(memory, scenario.now), op
    finally:
        await local.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, min_size=20, max_size=80))
def test_local_engine_matches_the_reference_backend(ops_list: list[Op]) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="rivetq-model-"))
    try:
        asyncio.run(run(ops_list, data_dir))
    finally:
        shutil.rmtree(data_dir)
