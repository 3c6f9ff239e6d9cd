"""Per-queue counters, one row per (queue, PostgreSQL backend): a statement adds to the
row of the connection it runs on, which no other transaction writes, so counting never
waits on another transaction's lock (a shared row would be held through every commit's
WAL flush). Readers add the rows up; ``fold_counters`` moves the rows of backends that
have ended into the queue's row 0, so the table stays at (live connections + 1) rows
per queue."""

from __future__ import annotations

from typing import LiteralString

from rivetq.storage.postgres.database import Connection

__all__ = ["count_ctes", "fold_counters"]

_COLUMNS = "enqueued_total, leased_total, acked_total, nacked_total"

_FOLD = f"""
WITH gone AS (
    DELETE FROM rivetq_counters
    WHERE slot <> 0 AND slot NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)
    RETURNING queue, {_COLUMNS}
)
INSERT INTO rivetq_counters AS c (queue, slot, {_COLUMNS})
SELECT queue, 0, sum(enqueued_total), sum(leased_total), sum(acked_total), sum(nacked_total)
FROM gone GROUP BY queue
ON CONFLICT (queue, slot) DO UPDATE SET
    enqueued_total = c.enqueued_total + EXCLUDED.enqueued_total,
    leased_total = c.leased_total + EXCLUDED.leased_total,
    acked_total = c.acked_total + EXCLUDED.acked_total,
    nacked_total = c.nacked_total + EXCLUDED.nacked_total
"""


def count_ctes(column: LiteralString, source: LiteralString) -> LiteralString:
    """``WITH`` clauses (named ``counted_*``) that add the rows of ``source`` (a CTE
    returning ``queue``) to ``column`` in this backend's rows. A plain update when the
    row exists (the usual case: no speculative insert, no extra lock record in the WAL);
    the insert makes the row once per queue and connection."""
    totals = f"(SELECT queue, count(*) AS n FROM {source} GROUP BY queue) AS s"
    return (
        f"counted_existing AS ("
        f" UPDATE rivetq_counters AS c SET {column} = c.{column} + s.n FROM {totals}"
        f" WHERE c.queue = s.queue AND c.slot = pg_backend_pid() RETURNING c.queue"
        f"), counted_new AS ("
        f" INSERT INTO rivetq_counters AS c (queue, slot, {column})"
        f" SELECT s.queue, pg_backend_pid(), s.n FROM {totals}"
        f" WHERE s.queue NOT IN (SELECT queue FROM counted_existing)"
        f" ON CONFLICT (queue, slot) DO UPDATE SET {column} = c.{column} + EXCLUDED.{column}"
        f")"
    )


async def fold_counters(conn: Connection) -> int:
    """Fold the rows of ended backends into row 0 of their queue; how many queues changed."""
    cursor = await conn.execute(_FOLD)
    return cursor.rowcount
