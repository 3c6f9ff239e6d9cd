"""Deleting a queue entirely, race-free against enqueues on other nodes.

Every insert holds a shared transaction-level advisory lock on its queue (taken inside
its one statement, see ``insert.py``); a deletion takes that lock exclusively, so it
waits for inserts in progress (their jobs are then committed and deleted with the rest)
and inserts that come later wait for it, then create the queue anew."""

from __future__ import annotations

from rivetq.errors import QueueNotFound, StateConflict
from rivetq.storage.base import inflight_refusal
from rivetq.storage.postgres.database import Connection
from rivetq.storage.postgres.rows import QUEUE_JOBS

__all__ = ["QUEUE_LOCK_SPACE", "delete_queue"]

QUEUE_LOCK_SPACE = 0x52514451  # first key of the (int, int) advisory locks on queues

_LOCK = "SELECT pg_advisory_xact_lock(%(space)s, hashtext(%(queue)s))"
_DELETE_ROW = "DELETE FROM rivetq_queues WHERE queue = %(queue)s RETURNING 1"
_DELETE_JOBS = f"""
WITH gone AS (DELETE FROM rivetq_jobs WHERE {QUEUE_JOBS} RETURNING state)
SELECT count(*), count(*) FILTER (WHERE state = 'inflight') FROM gone
"""
# Keys locked by an insert waiting for this deletion are that insert's: they stay.
_DELETE_KEYS = """
DELETE FROM rivetq_idempotency WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM rivetq_idempotency WHERE queue = %(queue)s FOR UPDATE SKIP LOCKED))
"""
_DELETE_COUNTERS = "DELETE FROM rivetq_counters WHERE queue = %(queue)s"


async def delete_queue(conn: Connection, queue: str, *, force: bool) -> int:
    """Run inside a transaction: raising rolls every step back."""
    params = {"queue": queue, "space": QUEUE_LOCK_SPACE}
    await conn.execute(_LOCK, params)
    if await (await conn.execute(_DELETE_ROW, params)).fetchone() is None:
        raise QueueNotFound(f"queue {queue} not found")
    row = await (await conn.execute(_DELETE_JOBS, params)).fetchone()
    deleted, inflight = (0, 0) if row is None else (int(row[0]), int(row[1]))
    if inflight and not force:
        raise StateConflict(inflight_refusal(queue, inflight))
    await conn.execute(_DELETE_KEYS, params)
    await conn.execute(_DELETE_COUNTERS, params)
    return deleted
