-- RivetQ schema, version 1. Every node runs with the same schema; see migrate.py.
-- Names and ids use the "C" collation: byte order, as every other backend sorts them,
-- whatever the locale of the database.

CREATE TABLE rivetq_queues (
    queue text COLLATE "C" PRIMARY KEY,
    paused boolean NOT NULL DEFAULT false,
    rate_capacity double precision,
    rate_refill double precision,
    bucket_tokens double precision,
    bucket_updated_at_ms bigint,
    base_backoff_ms bigint NOT NULL DEFAULT 1000,
    backoff_multiplier double precision NOT NULL DEFAULT 2.0,
    max_backoff_ms bigint NOT NULL DEFAULT 3600000,
    backoff_jitter text NOT NULL DEFAULT 'equal'
);

-- Counters are spread over a few slots per queue so that concurrent transactions rarely
-- wait on the same row; stats add the slots up.
CREATE TABLE rivetq_counters (
    queue text COLLATE "C" NOT NULL,
    slot smallint NOT NULL,
    enqueued_total bigint NOT NULL DEFAULT 0,
    leased_total bigint NOT NULL DEFAULT 0,
    acked_total bigint NOT NULL DEFAULT 0,
    nacked_total bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (queue, slot)
);

CREATE TABLE rivetq_jobs (
    id text COLLATE "C" PRIMARY KEY,
    queue text COLLATE "C" NOT NULL,
    seq bigserial NOT NULL,
    payload bytea NOT NULL,
    priority smallint NOT NULL CHECK (priority BETWEEN 0 AND 9),  -- lease.py walks 9 down to 0
    eta_ms bigint NOT NULL,
    max_retries integer NOT NULL,
    tries integer NOT NULL DEFAULT 0,
    created_at_ms bigint NOT NULL,
    state text NOT NULL CHECK (state IN ('waiting', 'inflight', 'dead')),
    idempotency_key text,
    last_error text,
    lease_id text,
    lease_expires_at_ms bigint
);

-- Lease: one range scan per priority (see lease.py), so delayed jobs of a higher
-- priority are never walked through.
CREATE INDEX rivetq_jobs_waiting ON rivetq_jobs (queue, priority DESC, eta_ms, seq) WHERE state = 'waiting';
CREATE INDEX rivetq_jobs_inflight ON rivetq_jobs (lease_expires_at_ms) WHERE state = 'inflight';
CREATE INDEX rivetq_jobs_dead ON rivetq_jobs (queue, id) WHERE state = 'dead';
CREATE INDEX rivetq_jobs_queue_id ON rivetq_jobs (queue, id);

CREATE TABLE rivetq_idempotency (
    queue text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    job_id text NOT NULL,
    recorded_at_ms bigint NOT NULL,
    PRIMARY KEY (queue, key)
);
CREATE INDEX rivetq_idempotency_recorded ON rivetq_idempotency (recorded_at_ms);
