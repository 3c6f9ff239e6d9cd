-- RivetQ schema, version 5 (see counters.py).
-- Counters get one row per (queue, PostgreSQL backend pid), so that no two transactions
-- update the same counter row; row 0 holds the totals of backends that have ended.
ALTER TABLE rivetq_counters ALTER COLUMN slot TYPE integer;
-- Counter updates are HOT (no indexed column changes): leave room on each page for them.
ALTER TABLE rivetq_counters SET (fillfactor = 50);
-- Enqueues and leases no longer write a counter: their totals are derived from the jobs
-- and the counted ends of their lives. The base columns keep what version 1 counted
-- beyond those terms, so every queue's totals read the same after the migration.
ALTER TABLE rivetq_counters RENAME COLUMN enqueued_total TO enqueued_base;
ALTER TABLE rivetq_counters RENAME COLUMN leased_total TO leased_base;
ALTER TABLE rivetq_counters
    ADD COLUMN dropped_total bigint NOT NULL DEFAULT 0,
    ADD COLUMN lapsed_total bigint NOT NULL DEFAULT 0;
WITH old AS (
    DELETE FROM rivetq_counters RETURNING queue, enqueued_base, leased_base, acked_total, nacked_total
), per_queue AS (
    SELECT queue, sum(enqueued_base) AS enqueued, sum(leased_base) AS leased,
           sum(acked_total) AS acked, sum(nacked_total) AS nacked
    FROM old GROUP BY queue
), jobs AS (
    SELECT queue, count(*) AS held, count(*) FILTER (WHERE state = 'inflight') AS inflight
    FROM rivetq_jobs GROUP BY queue
)
INSERT INTO rivetq_counters (queue, slot, enqueued_base, leased_base, acked_total, nacked_total)
SELECT p.queue, 0, p.enqueued - coalesce(j.held, 0) - p.acked,
       p.leased - coalesce(j.inflight, 0) - p.acked - p.nacked, p.acked, p.nacked
FROM per_queue AS p LEFT JOIN jobs AS j USING (queue);
