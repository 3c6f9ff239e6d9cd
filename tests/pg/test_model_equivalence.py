"""Property test: random operation sequences give the same results and the same
observable state on the in-memory reference backend and on PostgreSQL, with the
PostgreSQL storage closed and reopened at random points (the scenario machinery of
``tests/storage/test_model_equivalence.py``)."""

from __future__ import annotations

import asyncio
from itertools import count
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rivetq.storage.memory import MemoryStorage
from rivetq.storage.postgres import PostgresStorage
from tests.pg.cluster import shared_cluster
from tests.storage.test_model_equivalence import Op, Scenario, observe, ops, outcome


async def _open(dsn: str) -> PostgresStorage:
    storage = PostgresStorage(dsn, min_pool_size=1, max_pool_size=2)
    await storage.open()
    return storage


async def run(ops_list: list[Op], dsn: str) -> None:
    scenario = Scenario(Path("unused"))
    scenario.lease_counters["postgres"] = count(1)
    memory = MemoryStorage()
    postgres = await _open(dsn)
    try:
        for raw in ops_list:
            if raw[0] == "advance":
                scenario.now += raw[1]
                continue
            if raw[0] == "reopen":
                await postgres.close()
                postgres = await _open(dsn)
                continue
            if raw[0] == "checkpoint":  # the embedded engine's; PostgreSQL has none to take
                continue
            op = scenario.number_jobs(raw)
            expected = await outcome(scenario.call(memory, "memory", op))
            actual = await outcome(scenario.call(postgres, "postgres", op))
            assert actual == expected, f"{op}: postgres {actual!r} != memory {expected!r}"
            scenario.learn(expected)
            assert await observe(postgres, scenario.now) == await observe(memory, scenario.now), op
    finally:
        await postgres.close()


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, min_size=20, max_size=60))
def test_postgres_matches_the_reference_backend(ops_list: list[Op]) -> None:
    asyncio.run(run(ops_list, shared_cluster().scratch_dsn()))
