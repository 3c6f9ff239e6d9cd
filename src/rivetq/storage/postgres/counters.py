"""Per-queue counters, one row per (queue, PostgreSQL backend): a statement adds to the
row of the connection it runs on, which no other transaction writes, so counting never
waits on another transaction's lock (a shared row would be held through every commit's
WAL flush). ``fold_counters`` moves the rows of backends that have ended into the
queue's row 0, so the table stays at (live connections + 1) rows per queue.

Only the ends of a job's life are counted: an enqueue or a lease writes no counter.
``enqueued_total`` is the jobs in the table plus those removed (acked, or dropped by
delete and purge), ``leased_total`` the leases held now plus those ended (acked, nacked,
or lapsed: expired, or purged while held); ``*_base`` holds what was counted before
schema version 5 beyond those terms (see ``STATS_TOTALS``)."""

from __future__ import annotations

from typing import LiteralString

from rivetq.storage.postgres.database import Connection

__all__ = ["STATS_TOTALS", "count_ctes", "fold_counters"]

_COLUMNS = ("enqueued_base", "leased_base", "acked_total", "nacked_total", "dropped_total", "lapsed_total")

# For queue stats: totals from ``j`` (the queue's jobs by state) and ``c`` (its counters).
STATS_TOTALS: LiteralString = """
(coalesce(c.enqueued_base, 0) + j.ready + j.delayed + j.inflight + j.dead
    + coalesce(c.acked, 0) + coalesce(c.dropped, 0))::bigint,
(coalesce(c.leased_base, 0) + j.inflight
    + coalesce(c.acked, 0) + coalesce(c.nacked, 0) + coalesce(c.lapsed, 0))::bigint,
coalesce(c.acked, 0)::bigint, coalesce(c.nacked, 0)::bigint
"""

STATS_COUNTERS: LiteralString = """
    SELECT sum(enqueued_base) AS enqueued_base, sum(leased_base) AS leased_base, sum(acked_total) AS acked,
           sum(nacked_total) AS nacked, sum(dropped_total) AS dropped, sum(lapsed_total) AS lapsed
    FROM rivetq_counters WHERE queue = q.queue
"""

_FOLD = """
WITH gone AS (
    DELETE FROM rivetq_counters
    WHERE slot <> 0 AND slot NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)
    RETURNING queue, enqueued_base, leased_base, acked_total, nacked_total, dropped_total, lapsed_total
)
INSERT INTO rivetq_counters AS c
    (queue, slot, enqueued_base, leased_base, acked_total, nacked_total, dropped_total, lapsed_total)
SELECT queue, 0, sum(enqueued_base), sum(leased_base), sum(acked_total), sum(nacked_total), sum(dropped_total),
       sum(lapsed_total)
FROM gone GROUP BY queue
ON CONFLICT (queue, slot) DO UPDATE SET
    enqueued_base = c.enqueued_base + EXCLUDED.enqueued_base,
    leased_base = c.leased_base + EXCLUDED.leased_base,
    acked_total = c.acked_total + EXCLUDED.acked_total,
    nacked_total = c.nacked_total + EXCLUDED.nacked_total,
    dropped_total = c.dropped_total + EXCLUDED.dropped_total,
    lapsed_total = c.lapsed_total + EXCLUDED.lapsed_total
"""


def count_ctes(source: LiteralString, *columns: LiteralString, lapsed_filter: LiteralString = "") -> LiteralString:
    """``WITH`` clauses (named ``counted_*``) that add the number of rows of ``source``
    (a CTE returning ``queue``) to each of ``columns`` in this backend's rows; with
    ``lapsed_filter``, ``lapsed_total`` gets the rows matching it instead. A plain update
    when the row exists (the usual case: no speculative insert, no extra lock record in
    the WAL); the insert makes the row once per queue and connection."""
    assert all(column in _COLUMNS for column in columns)
    counts = ", ".join(_aggregate(column, lapsed_filter) + f" AS {column}" for column in columns)
    adds = ", ".join(f"{column} = c.{column} + s.{column}" for column in columns)
    merges = ", ".join(f"{column} = c.{column} + EXCLUDED.{column}" for column in columns)
    totals = f"(SELECT queue, {counts} FROM {source} GROUP BY queue) AS s"
    return (
        f"counted_existing AS ("
        f" UPDATE rivetq_counters AS c SET {adds} FROM {totals}"
        f" WHERE c.queue = s.queue AND c.slot = pg_backend_pid() RETURNING c.queue"
        f"), counted_new AS ("
        f" INSERT INTO rivetq_counters AS c (queue, slot, {', '.join(columns)})"
        f" SELECT s.queue, pg_backend_pid(), s.{', s.'.join(columns)} FROM {totals}"
        f" WHERE s.queue NOT IN (SELECT queue FROM counted_existing)"
        f" ON CONFLICT (queue, slot) DO UPDATE SET {merges}"
        f")"
    )


def _aggregate(column: LiteralString, lapsed_filter: LiteralString) -> LiteralString:
    if column == "lapsed_total" and lapsed_filter:
        return f"count(*) FILTER (WHERE {lapsed_filter})"
    return "count(*)"


async def fold_counters(conn: Connection) -> int:
    """Fold the rows of ended backends into row 0 of their queue; how many queues changed."""
    cursor = await conn.execute(_FOLD)
    return cursor.rowcount
