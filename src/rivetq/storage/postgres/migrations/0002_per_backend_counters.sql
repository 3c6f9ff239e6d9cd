-- RivetQ schema, version 2: counters get one row per (queue, PostgreSQL backend pid), so
-- that no two transactions update the same counter row (see counters.py); row 0 holds
-- the totals of backends that have ended. The old slots 1-7 are folded like ended ones.
ALTER TABLE rivetq_counters ALTER COLUMN slot TYPE integer;
-- Counter updates are HOT (no indexed column changes): leave room on each page for them.
ALTER TABLE rivetq_counters SET (fillfactor = 50);
