"""Lease: pick ready jobs with ``FOR UPDATE SKIP LOCKED`` (so nodes never wait for each
other's picks) and mark them inflight.

A queue with no pause, no rate limit and no concurrency limit leases in one statement
(pick and mark), so a lease is one round trip and one commit. A limited queue takes its
row lock in a transaction, which serializes that queue's leases: its token bucket lives
there, and its inflight jobs are counted under that lock, so two nodes never overshoot
its concurrency limit together.

The pick walks the waiting index once per priority (9 down to 0), each walk an index
range scan over ``eta_ms <= now``: delayed jobs of a higher priority are never read, so
a pick costs O(log n) whatever the mix of ready and delayed jobs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import LiteralString

from rivetq.models import Job, LeaseResult, QueueConfig, RateLimit
from rivetq.ratelimit import TokenBucket
from rivetq.storage.postgres.database import Connection
from rivetq.storage.postgres.rows import JOB_COLUMNS, fetch_jobs, service_order

__all__ = ["BY_PRIORITY", "LeaseRequest", "lease_limited", "lease_open", "limited"]

# Every priority, highest first (the schema checks 0-9), written into the statements: a
# constant costs the client nothing to send.
BY_PRIORITY: LiteralString = "unnest(ARRAY[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]::smallint[]) AS p(priority)"

_READY_BY_PRIORITY = f"""
FROM {BY_PRIORITY}
CROSS JOIN LATERAL (
    SELECT id, priority, eta_ms, seq FROM rivetq_jobs
    WHERE queue = %(queue)s AND state = 'waiting' AND priority = p.priority AND eta_ms <= %(now)s
    ORDER BY eta_ms, seq
    LIMIT %(count)s
    {{lock}}
) AS c
"""

# The n-th picked job in service order gets the n-th of the lease ids sent along.
_LEASE = f"""
WITH picked AS (
    SELECT r.id AS picked_id, row_number() OVER (ORDER BY r.priority DESC, r.eta_ms, r.seq) AS lease_no
    FROM (SELECT c.* {_READY_BY_PRIORITY.format(lock="FOR UPDATE SKIP LOCKED")} {{gate}} LIMIT %(count)s) AS r
), leased AS (
    UPDATE rivetq_jobs SET state = 'inflight', lease_id = (%(lease_ids)s::text[])[lease_no],
        lease_expires_at_ms = %(expires)s
    FROM picked WHERE id = picked_id
    RETURNING {JOB_COLUMNS}
)
SELECT {JOB_COLUMNS} FROM leased
"""

# The queue row is not locked here: an open queue is checked inside the pick.
_UNLIMITED_GATE = (
    "WHERE EXISTS (SELECT 1 FROM rivetq_queues WHERE queue = %(queue)s AND NOT paused AND rate_capacity IS NULL"
    " AND max_inflight IS NULL)"
)
_LEASE_OPEN = _LEASE.format(gate=_UNLIMITED_GATE)
# The one-job lease (the usual worker call) is the pick as a sub-select of the update, as
# a hand-written SKIP LOCKED queue does it: no numbering, sort or CTE to run. Its LIMIT is
# a constant: with a parameter PostgreSQL re-planned the statement at every call (a
# generic plan, costed for an unknown limit, looked dearer).
_LEASE_OPEN_ONE = f"""
UPDATE rivetq_jobs SET state = 'inflight', lease_id = %(lease_id)s, lease_expires_at_ms = %(expires)s
WHERE id = (SELECT c.id {_READY_BY_PRIORITY.format(lock="FOR UPDATE SKIP LOCKED")} {_UNLIMITED_GATE} LIMIT 1)
RETURNING {JOB_COLUMNS}
""".replace("%(count)s", "1")
_LEASE_LOCKED = _LEASE.format(gate="")

_HAS_READY = "SELECT EXISTS (SELECT 1 " + _READY_BY_PRIORITY.format(lock="") + ")"

_QUEUE_GATE = (
    "SELECT paused, rate_capacity, rate_refill, bucket_tokens, bucket_updated_at_ms, max_inflight FROM rivetq_queues"
)
_LIMITED = (
    "SELECT true FROM rivetq_queues WHERE queue = %(queue)s AND NOT paused"
    " AND (rate_capacity IS NOT NULL OR max_inflight IS NOT NULL)"
)
# Under the queue row's lock, which every lease of a limited queue takes: race-free across nodes.
_INFLIGHT = "SELECT count(*) FROM rivetq_jobs WHERE queue = %(queue)s AND state = 'inflight'"
_LOCK_GATE = _QUEUE_GATE + " WHERE queue = %(queue)s FOR UPDATE"
_SAVE_BUCKET = (
    "UPDATE rivetq_queues SET bucket_tokens = %(tokens)s, bucket_updated_at_ms = %(at)s WHERE queue = %(queue)s"
)


@dataclass(frozen=True)
class LeaseRequest:
    queue: str
    max_jobs: int
    visibility_ms: int
    now_ms: int
    new_lease_id: Callable[[], str]
    _drawn: list[str] = field(default_factory=list)

    def params(self, count: int) -> dict[str, object]:
        return {"queue": self.queue, "now": self.now_ms, "count": count}

    def lease_ids(self, count: int) -> list[str]:
        """The first ``count`` lease ids of this call: a second attempt reuses the ids
        the first one drew and left unused."""
        self._drawn.extend(self.new_lease_id() for _ in range(count - len(self._drawn)))
        return self._drawn[:count]


async def lease_open(conn: Connection, request: LeaseRequest) -> list[Job]:
    """Lease from a queue with no pause and no limit, in one statement; no jobs when the
    queue is empty, unknown, paused or limited."""
    query = _LEASE_OPEN_ONE if request.max_jobs == 1 else _LEASE_OPEN
    return await _lease(conn, query, request, request.max_jobs)


async def limited(conn: Connection, queue: str) -> bool:
    """Whether ``queue`` has a rate or concurrency limit (and is not paused): leases then
    go through ``lease_limited``."""
    return await (await conn.execute(_LIMITED, {"queue": queue})).fetchone() is not None


async def lease_limited(conn: Connection, request: LeaseRequest) -> LeaseResult:
    """Lease (in a transaction holding the queue row) at most as many jobs as the
    concurrency limit leaves room for and the queue's bucket has tokens."""
    gate = await (await conn.execute(_LOCK_GATE, {"queue": request.queue})).fetchone()
    if gate is None or gate[0]:
        return LeaseResult(jobs=[], rate_limited=False)
    _, capacity, refill, tokens, updated_at_ms, max_inflight = gate
    cap = await _lease_cap(conn, request, max_inflight)
    if capacity is None:  # no rate limit (or it was removed since the first look)
        jobs = await _lease(conn, _LEASE_LOCKED, request, cap)
        return LeaseResult(jobs=jobs, rate_limited=False, concurrency_limited=await _capped(conn, request, jobs, cap))
    limit = RateLimit(capacity=capacity, refill_rate=refill)
    current = TokenBucket.full(limit, request.now_ms) if tokens is None else TokenBucket(tokens, updated_at_ms)
    granted, bucket = current.take(limit, cap, request.now_ms)
    jobs = await _lease(conn, _LEASE_LOCKED, request, granted)
    bucket = bucket.give_back(limit, granted - len(jobs))
    await conn.execute(_SAVE_BUCKET, {"tokens": bucket.tokens, "at": bucket.updated_at_ms, "queue": request.queue})
    held_back = len(jobs) == granted < cap and await _has_ready(conn, request)
    return LeaseResult(jobs=jobs, rate_limited=held_back, concurrency_limited=await _capped(conn, request, jobs, cap))


async def _lease_cap(conn: Connection, request: LeaseRequest, max_inflight: int | None) -> int:
    if max_inflight is None:
        return request.max_jobs
    row = await (await conn.execute(_INFLIGHT, {"queue": request.queue})).fetchone()
    return QueueConfig(max_inflight=max_inflight).lease_cap(request.max_jobs, int(row[0]) if row else 0)


async def _capped(conn: Connection, request: LeaseRequest, jobs: list[Job], cap: int) -> bool:
    """True when the concurrency limit held back jobs that were ready."""
    return len(jobs) == cap < request.max_jobs and await _has_ready(conn, request)


async def _lease(conn: Connection, query: LiteralString, request: LeaseRequest, count: int) -> list[Job]:
    if count == 0:
        return []
    ids = request.lease_ids(count)  # the one-job statement takes the first as a scalar
    params = request.params(count) | {
        "lease_ids": ids,
        "lease_id": ids[0],
        "expires": request.now_ms + request.visibility_ms,
    }
    jobs = await fetch_jobs(conn, query, params)
    return sorted(jobs, key=service_order)  # RETURNING keeps no order


async def _has_ready(conn: Connection, request: LeaseRequest) -> bool:
    row = await (await conn.execute(_HAS_READY, request.params(1))).fetchone()
    return bool(row and row[0])
