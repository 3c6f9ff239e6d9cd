-- Per-queue concurrency limit: at most this many jobs in flight at once, across nodes
-- (NULL: no limit). Leases of a limited queue lock its row, then count its inflight jobs.
ALTER TABLE rivetq_queues ADD COLUMN max_inflight integer CHECK (max_inflight > 0);
