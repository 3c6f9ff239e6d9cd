"""Cross-node wake-ups cost nothing while nobody waits: a change sends a NOTIFY only
for queues another node waits on, and a change made before that node's wait was heard
still wakes it."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import psycopg
import pytest

from rivetq.ids import new_lease_id
from rivetq.models import NewJob
from rivetq.storage.postgres import PostgresStorage
from rivetq.storage.postgres.listen import CHANNEL, LISTENER_APPLICATION_NAME
from tests.pg.test_outage import Wakeups

T0 = 1_700_000_000_000
DAY_MS = 86_400_000
QUIET_S = 0.5
_numbers = itertools.count(1)


def _job(*, eta_ms: int = T0) -> NewJob:
    return NewJob(id=f"job-{next(_numbers):04d}", payload=b"{}", priority=5, eta_ms=eta_ms, max_retries=3)


class Wire:
    """A LISTEN connection of the test's own: every wake-up NOTIFY the nodes send."""

    def __init__(self, conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
        self.payloads: asyncio.Queue[str] = asyncio.Queue()
        self._conn = conn

    async def run(self) -> None:
        async for note in self._conn.notifies():
            self.payloads.put_nowait(note.payload)


@pytest.fixture
async def wire(fresh_database: str) -> AsyncIterator[Wire]:
    async with await psycopg.AsyncConnection.connect(fresh_database, autocommit=True) as conn:
        await conn.execute(f"LISTEN {CHANNEL}")
        listening = Wire(conn)
        task = asyncio.create_task(listening.run())
        yield listening
        task.cancel()


@pytest.fixture
async def nodes(fresh_database: str) -> AsyncIterator[tuple[PostgresStorage, PostgresStorage, Wakeups]]:
    one, two = PostgresStorage(fresh_database), PostgresStorage(fresh_database)
    wakeups = Wakeups()
    two.set_wakeup(wakeups)
    await one.open()
    await two.open()
    try:
        await _listeners_settled(fresh_database, wakeups)
        yield one, two, wakeups
    finally:
        await one.close()
        await two.close()


async def _listeners_settled(dsn: str, wakeups: Wakeups) -> None:
    """Wait until both nodes listen and have done their on-connect wake-up of every
    queue, then forget those wake-ups: the tests' wake-ups come from the nodes' messages."""
    query = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE application_name = %s AND state = 'idle' AND query LIKE 'SELECT queue FROM rivetq_queues%%'"
    )
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        for _ in range(100):
            row = await (await conn.execute(query, (LISTENER_APPLICATION_NAME,))).fetchone()
            if row is not None and row[0] == 2:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the nodes' LISTEN connections did not come up")
    while not wakeups.queues.empty():
        wakeups.queues.get_nowait()


async def _wait_on(node: PostgresStorage, queue: str) -> None:
    result = await node.lease(queue, max_jobs=1, visibility_ms=60_000, now_ms=T0, new_lease_id=new_lease_id)
    assert result.jobs == []


async def test_enqueues_send_no_notify_while_nobody_waits(
    nodes: tuple[PostgresStorage, PostgresStorage, Wakeups], wire: Wire
) -> None:
    one, two, wakeups = nodes
    for _ in range(20):
        await one.insert("emails", [_job()], now_ms=T0, dedup_window_ms=DAY_MS)
    await asyncio.sleep(QUIET_S)
    assert wire.payloads.empty()

    await _wait_on(two, "other")
    await one.insert("other", [_job()], now_ms=T0, dedup_window_ms=DAY_MS)
    await wakeups.next_for("other")
    async with asyncio.timeout(5):
        assert "other" in (await wire.payloads.get()).split(" ")[1:]


async def test_a_change_made_before_a_wait_was_heard_still_wakes_the_waiter(
    nodes: tuple[PostgresStorage, PostgresStorage, Wakeups],
) -> None:
    one, two, wakeups = nodes
    await one.insert("later", [_job(eta_ms=T0 + DAY_MS)], now_ms=T0, dedup_window_ms=DAY_MS)
    await _wait_on(two, "later")  # nothing ready yet: two waits, and says so
    await wakeups.next_for("later")  # one changed that queue a moment ago: two should look again
