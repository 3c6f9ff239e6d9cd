"""Job rows: the column list, reading rows back as ``Job``, and the lease order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import LiteralString

from psycopg.rows import args_row

from rivetq.models import Job, StoredState
from rivetq.storage.postgres.database import Connection

__all__ = ["JOB_COLUMNS", "QUEUE_JOBS", "fetch_jobs", "service_order"]

JOB_COLUMNS: LiteralString = (
    "id, queue, payload, priority, eta_ms, max_retries, tries, created_at_ms, seq, state,"
    " idempotency_key, last_error, lease_id, lease_expires_at_ms, headers"
)

# All the jobs of queue %(queue)s, said so that each state-arm reaches its rows through
# the index that holds them: rivetq_jobs_listed (queue, id) has the jobs that are not
# leased, rivetq_jobs_inflight the leased ones (schema version 6).
QUEUE_JOBS: LiteralString = "queue = %(queue)s AND (state <> 'inflight' OR state = 'inflight')"


def _job(
    id: str,
    queue: str,
    payload: bytes,
    priority: int,
    eta_ms: int,
    max_retries: int,
    tries: int,
    created_at_ms: int,
    seq: int,
    state: str,
    idempotency_key: str | None,
    last_error: str | None,
    lease_id: str | None,
    lease_expires_at_ms: int | None,
    headers: dict[str, str] | None,
) -> Job:
    return Job(
        id=id,
        queue=queue,
        payload=payload,
        priority=priority,
        eta_ms=eta_ms,
        max_retries=max_retries,
        tries=tries,
        created_at_ms=created_at_ms,
        seq=seq,
        state=StoredState(state),
        idempotency_key=idempotency_key,
        last_error=last_error,
        lease_id=lease_id,
        lease_expires_at_ms=lease_expires_at_ms,
        headers=headers,
    )


async def fetch_jobs(conn: Connection, query: LiteralString, params: Mapping[str, object]) -> list[Job]:
    """Run ``query`` (which returns ``JOB_COLUMNS``) and read its rows as jobs."""
    async with conn.cursor(row_factory=args_row(_job)) as cursor:
        await cursor.execute(query, params)
        return await cursor.fetchall()


def service_order(job: Job) -> tuple[int, int, int]:
    """Lease order: priority descending, then eta, then enqueue order."""
    return (-job.priority, job.eta_ms, job.seq)
