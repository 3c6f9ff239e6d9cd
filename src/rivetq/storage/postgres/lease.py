"""Lease: pick ready jobs with ``FOR UPDATE SKIP LOCKED`` (so nodes never wait for each
other's picks) and mark them inflight, in one transaction with the pause and
rate-limit checks.

The pick walks the waiting index once per priority (9 down to 0), each walk an index
range scan over ``eta_ms <= now``: delayed jobs of a higher priority are never read, so
a pick costs O(log n) whatever the mix of ready and delayed jobs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import LiteralString

from rivetq.models import Job, LeaseResult, QueueConfig, RateLimit
from rivetq.ratelimit import TokenBucket
from rivetq.storage.postgres.counters import add_count
from rivetq.storage.postgres.database import Connection
from rivetq.storage.postgres.rows import JOB_COLUMNS, fetch_jobs, service_order

__all__ = ["PRIORITIES", "lease_jobs"]

PRIORITIES = list(range(9, -1, -1))

_READY_BY_PRIORITY = """
FROM unnest(%(priorities)s::smallint[]) AS p(priority)
CROSS JOIN LATERAL (
    SELECT id FROM rivetq_jobs
    WHERE queue = %(queue)s AND state = 'waiting' AND priority = p.priority AND eta_ms <= %(now)s
    ORDER BY eta_ms, seq
    LIMIT %(count)s
    {lock}
) AS c
"""

_PICK = "SELECT c.id " + _READY_BY_PRIORITY.format(lock="FOR UPDATE SKIP LOCKED") + " {gate} LIMIT %(count)s"

# Without a limit or pause the queue row is not read first: the gate checks it in the pick.
_UNLIMITED_GATE = (
    "WHERE EXISTS (SELECT 1 FROM rivetq_queues WHERE queue = %(queue)s AND NOT paused AND rate_capacity IS NULL"
    " AND max_inflight IS NULL)"
)
_PICK_OPEN_QUEUE = _PICK.format(gate=_UNLIMITED_GATE)
_PICK_LOCKED_QUEUE = _PICK.format(gate="")

_HAS_READY = "SELECT EXISTS (SELECT 1 " + _READY_BY_PRIORITY.format(lock="") + ")"

_MARK_INFLIGHT = f"""
WITH leased AS (
    UPDATE rivetq_jobs AS j SET state = 'inflight', lease_id = u.new_lease_id, lease_expires_at_ms = %(expires)s
    FROM unnest(%(ids)s::text[], %(lease_ids)s::text[]) AS u(job_id, new_lease_id)
    WHERE j.id = u.job_id
    RETURNING {JOB_COLUMNS}
), counted AS ({add_count("leased_total", "leased")})
SELECT {JOB_COLUMNS} FROM leased
"""

_QUEUE_GATE = (
    "SELECT paused, rate_capacity, rate_refill, bucket_tokens, bucket_updated_at_ms, max_inflight FROM rivetq_queues"
)
# Under the queue row's lock, which every lease of a limited queue takes: race-free across nodes.
_INFLIGHT = "SELECT count(*) FROM rivetq_jobs WHERE queue = %(queue)s AND state = 'inflight'"
_READ_GATE = _QUEUE_GATE + " WHERE queue = %(queue)s"
_LOCK_GATE = _READ_GATE + " FOR UPDATE"
_SAVE_BUCKET = (
    "UPDATE rivetq_queues SET bucket_tokens = %(tokens)s, bucket_updated_at_ms = %(at)s WHERE queue = %(queue)s"
)


@dataclass(frozen=True)
class _Lease:
    queue: str
    max_jobs: int
    visibility_ms: int
    now_ms: int
    new_lease_id: Callable[[], str]
    slot: int

    def params(self, count: int) -> dict[str, object]:
        return {"queue": self.queue, "now": self.now_ms, "priorities": PRIORITIES, "count": count}


async def lease_jobs(
    conn: Connection,
    queue: str,
    *,
    max_jobs: int,
    visibility_ms: int,
    now_ms: int,
    new_lease_id: Callable[[], str],
    slot: int,
) -> LeaseResult:
    """Lease in a transaction. An open queue (no pause, no limit) costs one pick and one
    update; a rate-limited queue locks its row, which serializes its leases."""
    request = _Lease(queue, max_jobs, visibility_ms, now_ms, new_lease_id, slot)
    ids = await _pick(conn, _PICK_OPEN_QUEUE, request.params(max_jobs))
    if ids:
        return LeaseResult(jobs=await _mark_inflight(conn, request, ids), rate_limited=False)
    gate = await (await conn.execute(_READ_GATE, {"queue": queue})).fetchone()
    if gate is None or gate[0] or (gate[1] is None and gate[5] is None):
        return LeaseResult(jobs=[], rate_limited=False)
    return await _lease_limited(conn, request)


async def _lease_limited(conn: Connection, request: _Lease) -> LeaseResult:
    gate = await (await conn.execute(_LOCK_GATE, {"queue": request.queue})).fetchone()
    if gate is None or gate[0]:
        return LeaseResult(jobs=[], rate_limited=False)
    _, capacity, refill, tokens, updated_at_ms, max_inflight = gate
    cap = await _lease_cap(conn, request, max_inflight)
    if capacity is None:  # no rate limit (or it was removed since the first look)
        ids = await _pick(conn, _PICK_LOCKED_QUEUE, request.params(cap))
        jobs = await _mark_inflight(conn, request, ids)
        return LeaseResult(jobs=jobs, rate_limited=False, concurrency_limited=await _capped(conn, request, jobs, cap))
    limit = RateLimit(capacity=capacity, refill_rate=refill)
    current = TokenBucket.full(limit, request.now_ms) if tokens is None else TokenBucket(tokens, updated_at_ms)
    granted, bucket = current.take(limit, cap, request.now_ms)
    ids = await _pick(conn, _PICK_LOCKED_QUEUE, request.params(granted))
    jobs = await _mark_inflight(conn, request, ids)
    bucket = bucket.give_back(limit, granted - len(jobs))
    await conn.execute(_SAVE_BUCKET, {"tokens": bucket.tokens, "at": bucket.updated_at_ms, "queue": request.queue})
    held_back = len(jobs) == granted < cap and await _has_ready(conn, request)
    return LeaseResult(jobs=jobs, rate_limited=held_back, concurrency_limited=await _capped(conn, request, jobs, cap))


async def _lease_cap(conn: Connection, request: _Lease, max_inflight: int | None) -> int:
    if max_inflight is None:
        return request.max_jobs
    row = await (await conn.execute(_INFLIGHT, {"queue": request.queue})).fetchone()
    return QueueConfig(max_inflight=max_inflight).lease_cap(request.max_jobs, int(row[0]) if row else 0)


async def _capped(conn: Connection, request: _Lease, jobs: list[Job], cap: int) -> bool:
    """True when the concurrency limit held back jobs that were ready."""
    return len(jobs) == cap < request.max_jobs and await _has_ready(conn, request)


async def _pick(conn: Connection, query: LiteralString, params: dict[str, object]) -> list[str]:
    if params["count"] == 0:
        return []
    return [row[0] for row in await (await conn.execute(query, params)).fetchall()]


async def _has_ready(conn: Connection, request: _Lease) -> bool:
    row = await (await conn.execute(_HAS_READY, request.params(1))).fetchone()
    return bool(row and row[0])


async def _mark_inflight(conn: Connection, request: _Lease, ids: list[str]) -> list[Job]:
    if not ids:
        return []
    params = {
        "ids": ids,
        "lease_ids": [request.new_lease_id() for _ in ids],
        "expires": request.now_ms + request.visibility_ms,
        "slot": request.slot,
    }
    jobs = await fetch_jobs(conn, _MARK_INFLIGHT, params)
    return sorted(jobs, key=service_order)  # RETURNING keeps no order
