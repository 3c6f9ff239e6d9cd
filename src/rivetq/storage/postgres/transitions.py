"""Transitions of leased and dead jobs. Each is one statement (atomic on its own) whose
``WHERE`` clause is the lease check, so a wrong or expired lease changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import LiteralString

from rivetq.errors import JobNotFound, LeaseLost, StateConflict
from rivetq.models import AckResult, Job, StoredState
from rivetq.storage.postgres.counters import count_ctes
from rivetq.storage.postgres.database import Connection
from rivetq.storage.postgres.rows import JOB_COLUMNS, QUEUE_JOBS, fetch_jobs

__all__ = [
    "ack_jobs",
    "delete_job",
    "end_attempt",
    "extend_lease",
    "purge_jobs",
    "requeue_dead",
]

# "Inflight", said so that the planner cannot use the inflight index (partial on
# state = 'inflight', ordered by expiry) for a lease check. With statistics taken while
# few leases were held it believed that index nearly empty and walked every held lease
# to find one job; the primary key finds it in a few page reads.
_HELD: LiteralString = "state NOT IN ('waiting', 'dead')"

_ACK = f"""
WITH done AS (
    DELETE FROM rivetq_jobs AS j {{using}}
    WHERE j.id = {{job}} AND j.lease_id = {{lease}} AND {_HELD} AND j.lease_expires_at_ms > %(now)s
    RETURNING j.id, j.lease_id, j.queue
), {count_ctes("done", "acked_total")}
SELECT id, lease_id, queue FROM done
"""
_ACK_MANY = _ACK.format(
    using="USING unnest(%(ids)s::text[], %(lease_ids)s::text[]) AS a(id, lease_id)", job="a.id", lease="a.lease_id"
)
# One job, said with scalars: PostgreSQL then keeps the statement's plan, where the
# array form was planned anew at every call (a quarter of a millisecond of its CPU).
_ACK_ONE = _ACK.format(using="", job="%(id)s", lease="%(lease_id)s")

_EXTEND = f"""
UPDATE rivetq_jobs SET lease_expires_at_ms = %(expires)s
WHERE id = %(id)s AND {_HELD} AND lease_id = %(lease_id)s AND lease_expires_at_ms > %(now)s
RETURNING {JOB_COLUMNS}
"""

_END_ATTEMPT = """
WITH ended AS (
    UPDATE rivetq_jobs
    SET state = %(state)s, tries = tries + 1, eta_ms = COALESCE(%(eta)s::bigint, eta_ms), last_error = %(error)s,
        lease_id = NULL, lease_expires_at_ms = NULL
    WHERE id = %(id)s AND {held} AND lease_id = %(lease_id)s AND {due}
    RETURNING {columns}
), {count}
SELECT {columns} FROM ended
"""
_NACK = _END_ATTEMPT.format(
    held=_HELD,
    due="lease_expires_at_ms > %(now)s",
    columns=JOB_COLUMNS,
    count=count_ctes("ended", "nacked_total"),
)
# A lease that ran out is not a nack: it lapsed.
_EXPIRE = _END_ATTEMPT.format(
    held=_HELD,
    due="lease_expires_at_ms <= %(now)s",
    columns=JOB_COLUMNS,
    count=count_ctes("ended", "lapsed_total"),
)

_REQUEUE_ALL = (
    "UPDATE rivetq_jobs SET state = 'waiting', tries = 0, eta_ms = %(now)s WHERE queue = %(queue)s AND state = 'dead'"
)
_REQUEUE_SOME = _REQUEUE_ALL + " AND id = ANY(%(ids)s::text[])"

_DELETE = f"""
WITH gone AS (
    DELETE FROM rivetq_jobs WHERE id = %(id)s AND state <> 'inflight' RETURNING {JOB_COLUMNS}
), {count_ctes("gone", "dropped_total")}
SELECT {JOB_COLUMNS} FROM gone
"""
_STATE_OF = "SELECT state FROM rivetq_jobs WHERE id = %(id)s"
_LEASES_OF = "SELECT id, state, lease_id, lease_expires_at_ms FROM rivetq_jobs WHERE id = ANY(%(ids)s::text[])"

# Purged jobs are dropped; the leases of purged inflight jobs lapse.
_PURGE = f"""
WITH gone AS (
    DELETE FROM rivetq_jobs WHERE {{jobs}} RETURNING queue, state
), {count_ctes("gone", "dropped_total", "lapsed_total", lapsed_filter="state = 'inflight'")}
SELECT count(*) FROM gone
"""
_PURGE_ALL = _PURGE.format(jobs=QUEUE_JOBS)
_PURGE_DEAD = _PURGE.format(jobs="queue = %(queue)s AND state = 'dead'")


async def ack_jobs(conn: Connection, acks: Sequence[tuple[str, str]], *, now_ms: int) -> list[AckResult]:
    if len(acks) == 1:
        query, params = _ACK_ONE, {"id": acks[0][0], "lease_id": acks[0][1], "now": now_ms}
    else:
        query, params = _ACK_MANY, {"ids": [a[0] for a in acks], "lease_ids": [a[1] for a in acks], "now": now_ms}
    rows = await (await conn.execute(query, params)).fetchall()
    done: dict[tuple[str, str], str] = {(job_id, lease_id): queue for job_id, lease_id, queue in rows}
    failed = [job_id for job_id, lease_id in acks if (job_id, lease_id) not in done]
    leases = await _leases_of(conn, failed) if failed else {}
    results: list[AckResult] = []
    for job_id, lease_id in acks:
        # The same ack twice in a batch: only the first succeeds.
        if (queue := done.pop((job_id, lease_id), None)) is not None:
            results.append(AckResult(job_id=job_id, queue=queue))
        else:
            error = _refusal(job_id, lease_id, leases.get(job_id), expired=False)
            results.append(AckResult(job_id=job_id, error=error.message, error_code=error.code))
    return results


async def extend_lease(conn: Connection, job_id: str, lease_id: str, *, expires_at_ms: int, now_ms: int) -> Job:
    params = {"id": job_id, "lease_id": lease_id, "expires": expires_at_ms, "now": now_ms}
    found = await fetch_jobs(conn, _EXTEND, params)
    return found[0] if found else await _refuse(conn, job_id, lease_id, expired=False)


async def end_attempt(
    conn: Connection,
    job_id: str,
    lease_id: str,
    *,
    to: StoredState,
    eta_ms: int | None,
    error: str | None,
    now_ms: int,
    expired: bool,
) -> Job:
    """A failed attempt (``tries += 1``): back to waiting at ``eta_ms``, or dead."""
    params = {
        "id": job_id,
        "lease_id": lease_id,
        "state": to.value,
        "eta": eta_ms,
        "error": error,
        "now": now_ms,
    }
    found = await fetch_jobs(conn, _EXPIRE if expired else _NACK, params)
    return found[0] if found else await _refuse(conn, job_id, lease_id, expired=expired)


async def requeue_dead(conn: Connection, queue: str, job_ids: Sequence[str] | None, *, now_ms: int) -> int:
    params = {"queue": queue, "now": now_ms, "ids": None if job_ids is None else list(job_ids)}
    cursor = await conn.execute(_REQUEUE_ALL if job_ids is None else _REQUEUE_SOME, params)
    return cursor.rowcount


async def delete_job(conn: Connection, job_id: str) -> Job:
    deleted = await fetch_jobs(conn, _DELETE, {"id": job_id})
    if deleted:
        return deleted[0]
    row = await (await conn.execute(_STATE_OF, {"id": job_id})).fetchone()
    if row is None:
        raise JobNotFound(f"job {job_id} not found")
    raise StateConflict(f"job {job_id} is inflight")


async def purge_jobs(conn: Connection, queue: str, *, dead_only: bool) -> int:
    row = await (await conn.execute(_PURGE_DEAD if dead_only else _PURGE_ALL, {"queue": queue})).fetchone()
    return int(row[0]) if row else 0


async def _leases_of(conn: Connection, job_ids: list[str]) -> dict[str, tuple[str, str | None, int | None]]:
    """(state, lease id, lease expiry) of the jobs that exist, to say why a lease failed."""
    rows = await (await conn.execute(_LEASES_OF, {"ids": job_ids})).fetchall()
    return {job_id: (state, lease_id, expires) for job_id, state, lease_id, expires in rows}


async def _refuse(conn: Connection, job_id: str, lease_id: str, *, expired: bool) -> Job:
    lease = (await _leases_of(conn, [job_id])).get(job_id)
    raise _refusal(job_id, lease_id, lease, expired=expired)


def _refusal(
    job_id: str, lease_id: str, lease: tuple[str, str | None, int | None] | None, *, expired: bool
) -> LeaseLost | JobNotFound:
    """The reference backend's words for each way a lease check fails."""
    if expired:
        return LeaseLost(f"job {job_id} has no expired lease {lease_id}")
    if lease is None:
        return JobNotFound(f"job {job_id} not found")
    if lease[0] != StoredState.INFLIGHT.value or lease[1] != lease_id:
        return LeaseLost(f"job {job_id} is not leased with lease {lease_id}")
    return LeaseLost(f"the lease {lease_id} of job {job_id} expired")
