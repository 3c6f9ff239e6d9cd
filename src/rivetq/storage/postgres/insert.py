"""Insert with idempotency keys: a unique (queue, key) row claimed with
``INSERT ... ON CONFLICT``, so two nodes racing on one key agree on the first job."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg.types.json import Jsonb

from rivetq.errors import StateConflict
from rivetq.models import InsertResult, NewJob
from rivetq.storage.postgres.database import Connection
from rivetq.storage.postgres.deletion import QUEUE_LOCK_SPACE

__all__ = ["insert_jobs", "purge_expired_keys"]

_CLAIM_KEYS = """
INSERT INTO rivetq_idempotency AS k (queue, key, job_id, recorded_at_ms)
SELECT %(queue)s, u.key, u.job_id, %(now)s FROM unnest(%(keys)s::text[], %(ids)s::text[]) AS u(key, job_id)
ON CONFLICT (queue, key) DO UPDATE SET job_id = EXCLUDED.job_id, recorded_at_ms = EXCLUDED.recorded_at_ms
WHERE k.recorded_at_ms <= %(cutoff)s
RETURNING key
"""

_RECORDED_KEYS = "SELECT key, job_id FROM rivetq_idempotency WHERE queue = %(queue)s AND key = ANY(%(keys)s::text[])"

_INSERT = f"""
WITH shared AS (  -- a lock against deleting the queue (see deletion.py), read before any write
    SELECT pg_advisory_xact_lock_shared({QUEUE_LOCK_SPACE}, hashtext(%(queue)s))
), known AS (
    INSERT INTO rivetq_queues (queue) SELECT %(queue)s FROM shared ON CONFLICT (queue) DO NOTHING
), added AS (
    INSERT INTO rivetq_jobs (id, queue, payload, priority, eta_ms, max_retries, created_at_ms, state, idempotency_key,
                             headers)
    SELECT u.id, %(queue)s, u.payload, u.priority, u.eta_ms, u.max_retries, %(now)s, 'waiting', u.key, u.headers
    FROM shared, unnest(%(ids)s::text[], %(payloads)s::bytea[], %(priorities)s::smallint[], %(etas)s::bigint[],
                        %(retries)s::integer[], %(keys)s::text[], %(headers)s::jsonb[])
         WITH ORDINALITY AS u(id, payload, priority, eta_ms, max_retries, key, headers, ord)
    ORDER BY u.ord
)
SELECT 1
"""

_PURGE_KEYS = """
DELETE FROM rivetq_idempotency WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM rivetq_idempotency WHERE recorded_at_ms <= %(cutoff)s LIMIT %(batch)s))
"""


async def insert_jobs(
    conn: Connection, queue: str, jobs: Sequence[NewJob], *, now_ms: int, cutoff_ms: int
) -> list[InsertResult]:
    """Insert every job that is not a duplicate (keys recorded after ``cutoff_ms`` count);
    a job id that exists already refuses the whole batch with ``StateConflict``."""
    firsts = _first_of_each_key(jobs)
    existing = await _claim_keys(conn, queue, firsts, now_ms=now_ms, cutoff_ms=cutoff_ms)
    results: list[InsertResult] = []
    fresh: list[NewJob] = []
    for job in jobs:
        key = job.idempotency_key
        if key is None or (firsts[key] is job and key not in existing):
            results.append(InsertResult(job_id=job.id, duplicate=False))
            fresh.append(job)
        else:
            results.append(InsertResult(job_id=existing.get(key, firsts[key].id), duplicate=True))
    await _insert_rows(conn, queue, fresh, now_ms=now_ms)
    return results


async def purge_expired_keys(conn: Connection, *, cutoff_ms: int, batch: int) -> bool:
    """Delete up to ``batch`` keys recorded at or before ``cutoff_ms``; true if more are left."""
    cursor = await conn.execute(_PURGE_KEYS, {"cutoff": cutoff_ms, "batch": batch})
    return cursor.rowcount >= batch


def _first_of_each_key(jobs: Sequence[NewJob]) -> dict[str, NewJob]:
    firsts: dict[str, NewJob] = {}
    for job in jobs:
        if job.idempotency_key is not None:
            firsts.setdefault(job.idempotency_key, job)
    return firsts


async def _claim_keys(
    conn: Connection, queue: str, firsts: dict[str, NewJob], *, now_ms: int, cutoff_ms: int
) -> dict[str, str]:
    """Record the keys not seen within the window; returns {key: first job id} for the others."""
    if not firsts:
        return {}
    keys = sorted(firsts)  # one lock order for every node, so claims never deadlock
    params = {"queue": queue, "keys": keys, "ids": [firsts[k].id for k in keys], "now": now_ms, "cutoff": cutoff_ms}
    claimed = {row[0] for row in await (await conn.execute(_CLAIM_KEYS, params)).fetchall()}
    taken = [k for k in keys if k not in claimed]
    if not taken:
        return {}
    rows = await (await conn.execute(_RECORDED_KEYS, {"queue": queue, "keys": taken})).fetchall()
    return {str(key): str(job_id) for key, job_id in rows}


async def _insert_rows(conn: Connection, queue: str, jobs: Sequence[NewJob], *, now_ms: int) -> None:
    params: dict[str, object] = {
        "queue": queue,
        "now": now_ms,
        "ids": [j.id for j in jobs],
        "payloads": [j.payload for j in jobs],
        "priorities": [j.priority for j in jobs],
        "etas": [j.eta_ms for j in jobs],
        "retries": [j.max_retries for j in jobs],
        "keys": [j.idempotency_key for j in jobs],
        "headers": [None if j.headers is None else Jsonb(j.headers) for j in jobs],
    }
    try:
        await (await conn.execute(_INSERT, params)).fetchone()  # in a pipeline, errors arrive with the result
    except psycopg.errors.UniqueViolation as error:
        raise StateConflict(f"a job of this batch already exists: {error.diag.message_detail}") from error
