"""Reads that touch jobs only: one job, pages of a queue, expired leases, next eta."""

from __future__ import annotations

from typing import LiteralString

from rivetq.errors import JobNotFound
from rivetq.models import Job, JobPage, JobState
from rivetq.storage.postgres.database import Connection
from rivetq.storage.postgres.lease import BY_PRIORITY
from rivetq.storage.postgres.rows import JOB_COLUMNS, fetch_jobs

__all__ = ["expired_leases", "get_job", "list_jobs", "next_eta_ms"]

_GET = f"SELECT {JOB_COLUMNS} FROM rivetq_jobs WHERE id = %(id)s"

_PAGE = (
    f"SELECT {JOB_COLUMNS} FROM rivetq_jobs"
    " WHERE queue = %(queue)s AND id > %(after)s {state} ORDER BY id LIMIT %(n)s"
)
_STATE_FILTERS: dict[JobState | None, LiteralString] = {
    JobState.READY: "AND state = 'waiting' AND eta_ms <= %(now)s",
    JobState.DELAYED: "AND state = 'waiting' AND eta_ms > %(now)s",
    JobState.INFLIGHT: "AND state = 'inflight'",
    JobState.DEAD: "AND state = 'dead'",
}
_PAGES = {state: _PAGE.format(state=fragment) for state, fragment in _STATE_FILTERS.items()}
# Every state: the (queue, id) index holds the jobs that are not leased, the inflight
# index the leased ones (a queue's share of them sorted by id); the two pages merge.
_NOT_LEASED = _PAGE.format(state="AND state <> 'inflight'")
_PAGES[None] = (
    f"SELECT {JOB_COLUMNS} FROM (({_NOT_LEASED}) UNION ALL ({_PAGES[JobState.INFLIGHT]})) AS j ORDER BY id LIMIT %(n)s"
)

_EXPIRED = f"""
SELECT {JOB_COLUMNS} FROM rivetq_jobs
WHERE state = 'inflight' AND lease_expires_at_ms <= %(now)s
ORDER BY lease_expires_at_ms, id
LIMIT %(n)s
"""

# One index probe per priority, as for leases (see lease.py).
_NEXT_ETA = f"""
SELECT min(c.eta_ms)
FROM {BY_PRIORITY}
CROSS JOIN LATERAL (
    SELECT eta_ms FROM rivetq_jobs
    WHERE queue = %(queue)s AND state = 'waiting' AND priority = p.priority AND eta_ms > %(now)s
    ORDER BY eta_ms
    LIMIT 1
) AS c
"""


async def get_job(conn: Connection, job_id: str) -> Job:
    found = await fetch_jobs(conn, _GET, {"id": job_id})
    if not found:
        raise JobNotFound(f"job {job_id} not found")
    return found[0]


async def list_jobs(
    conn: Connection, queue: str, *, state: JobState | None, limit: int, cursor: str | None, now_ms: int
) -> JobPage:
    params = {"queue": queue, "after": cursor or "", "n": limit + 1, "now": now_ms}
    found = await fetch_jobs(conn, _PAGES[state], params)
    jobs = found[:limit]
    return JobPage(jobs=jobs, next_cursor=jobs[-1].id if len(found) > limit else None)


async def expired_leases(conn: Connection, *, now_ms: int, limit: int) -> list[Job]:
    return await fetch_jobs(conn, _EXPIRED, {"now": now_ms, "n": limit})


async def next_eta_ms(conn: Connection, queue: str, *, now_ms: int) -> int | None:
    row = await (await conn.execute(_NEXT_ETA, {"queue": queue, "now": now_ms})).fetchone()
    return None if row is None or row[0] is None else int(row[0])
