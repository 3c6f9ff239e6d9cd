-- Schedules: the definition (msgpack of rivetq.models.Schedule) and its progress, which
-- advance_schedule moves with a compare-and-set on next_run_at_ms.
CREATE TABLE rivetq_schedules (
    name text COLLATE "C" PRIMARY KEY,
    definition bytea NOT NULL,
    next_run_at_ms bigint NOT NULL,
    last_run_at_ms bigint,
    runs_total bigint NOT NULL DEFAULT 0
);
