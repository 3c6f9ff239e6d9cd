-- RivetQ schema, version 6: a lease writes fewer index entries (see docs/bench/postgres.md).
-- A lease is an update that cannot be HOT (its state changes), so the new row version
-- gets an entry in every index whose predicate it matches. The (queue, id) index, for
-- listing, held every job: it now holds the jobs that are not leased, and leased jobs
-- are found through the inflight index, so a lease adds two entries (id, expiry), not three.
CREATE INDEX rivetq_jobs_listed ON rivetq_jobs (queue, id) WHERE state <> 'inflight';
DROP INDEX rivetq_jobs_queue_id;
-- Room on each page for the lease's new row version: on the same page, the update is
-- logged as the bytes that changed (not the whole row) and needs no second page.
ALTER TABLE rivetq_jobs SET (fillfactor = 50);
