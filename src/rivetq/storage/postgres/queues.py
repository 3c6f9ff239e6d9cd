"""Queue rows: config (pause, rate limit and its bucket, retry policy) and stats."""

from __future__ import annotations

from collections.abc import Callable

from psycopg.rows import args_row

from rivetq.models import QueueConfig, QueueCounters, QueueStats, RateLimit, RetryPolicy
from rivetq.ratelimit import TokenBucket
from rivetq.storage.postgres.counters import STATS_COUNTERS, STATS_TOTALS
from rivetq.storage.postgres.database import Connection

__all__ = ["queue_config", "queue_stats", "update_config"]

_CONFIG_COLUMNS = (
    "paused, rate_capacity, rate_refill, base_backoff_ms, backoff_multiplier, max_backoff_ms, backoff_jitter,"
    " max_inflight"
)

_CONFIG = f"SELECT {_CONFIG_COLUMNS} FROM rivetq_queues WHERE queue = %(queue)s"
_ENSURE_ROW = "INSERT INTO rivetq_queues (queue) VALUES (%(queue)s) ON CONFLICT (queue) DO NOTHING"
_LOCKED = f"SELECT {_CONFIG_COLUMNS}, bucket_tokens IS NOT NULL FROM rivetq_queues WHERE queue = %(queue)s FOR UPDATE"

_SAVE = """
UPDATE rivetq_queues SET
    paused = %(paused)s, rate_capacity = %(capacity)s, rate_refill = %(refill)s,
    bucket_tokens = CASE WHEN %(keep_bucket)s THEN bucket_tokens ELSE %(tokens)s END,
    bucket_updated_at_ms = CASE WHEN %(keep_bucket)s THEN bucket_updated_at_ms ELSE %(at)s END,
    base_backoff_ms = %(base)s, backoff_multiplier = %(multiplier)s,
    max_backoff_ms = %(max)s, backoff_jitter = %(jitter)s, max_inflight = %(max_inflight)s
WHERE queue = %(queue)s
"""

# Leased jobs are counted in one pass over the inflight index for every queue listed; the
# others of each queue through its (queue, id) entries (see QUEUE_JOBS in rows.py).
_STATS = f"""
WITH held AS (
    SELECT queue, count(*) AS inflight FROM rivetq_jobs
    WHERE state = 'inflight' AND (%(queue)s::text IS NULL OR queue = %(queue)s::text)
    GROUP BY queue
)
SELECT q.queue, {_CONFIG_COLUMNS}, j.ready, j.delayed, j.inflight, j.dead, {STATS_TOTALS}
FROM rivetq_queues AS q
LEFT JOIN held AS h ON h.queue = q.queue
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE state = 'waiting' AND eta_ms <= %(now)s) AS ready,
           count(*) FILTER (WHERE state = 'waiting' AND eta_ms > %(now)s) AS delayed,
           coalesce(h.inflight, 0) AS inflight,
           count(*) FILTER (WHERE state = 'dead') AS dead
    FROM rivetq_jobs WHERE queue = q.queue AND state <> 'inflight'
) AS j
LEFT JOIN LATERAL ({STATS_COUNTERS}) AS c ON true
WHERE %(queue)s::text IS NULL OR q.queue = %(queue)s::text
ORDER BY q.queue
"""


def _config(
    paused: bool,
    capacity: float | None,
    refill: float | None,
    base_backoff_ms: int,
    multiplier: float,
    max_backoff_ms: int,
    jitter: str,
    max_inflight: int | None,
) -> QueueConfig:
    limit = None if capacity is None or refill is None else RateLimit(capacity=capacity, refill_rate=refill)
    policy = RetryPolicy(
        base_backoff_ms=base_backoff_ms, multiplier=multiplier, max_backoff_ms=max_backoff_ms, jitter=jitter
    )
    return QueueConfig(paused=paused, rate_limit=limit, retry_policy=policy, max_inflight=max_inflight)


def _stats(
    queue: str,
    paused: bool,
    capacity: float | None,
    refill: float | None,
    base_backoff_ms: int,
    multiplier: float,
    max_backoff_ms: int,
    jitter: str,
    max_inflight: int | None,
    ready: int,
    delayed: int,
    inflight: int,
    dead: int,
    enqueued: int,
    leased: int,
    acked: int,
    nacked: int,
) -> QueueStats:
    config = _config(paused, capacity, refill, base_backoff_ms, multiplier, max_backoff_ms, jitter, max_inflight)
    counters = QueueCounters(enqueued_total=enqueued, leased_total=leased, acked_total=acked, nacked_total=nacked)
    return QueueStats(
        queue=queue, ready=ready, delayed=delayed, inflight=inflight, dlq=dead, counters=counters, config=config
    )


async def queue_config(conn: Connection, queue: str) -> QueueConfig:
    async with conn.cursor(row_factory=args_row(_config)) as cursor:
        await cursor.execute(_CONFIG, {"queue": queue})
        found = await cursor.fetchone()
    return QueueConfig() if found is None else found


async def queue_stats(conn: Connection, queue: str | None, *, now_ms: int) -> list[QueueStats]:
    """Stats of one queue (or of all when ``queue`` is None), sorted by name."""
    async with conn.cursor(row_factory=args_row(_stats)) as cursor:
        await cursor.execute(_STATS, {"queue": queue, "now": now_ms})
        return await cursor.fetchall()


async def update_config(
    conn: Connection, queue: str, change: Callable[[QueueConfig], QueueConfig], *, now_ms: int
) -> None:
    """Save ``change(current config)`` (in a transaction) with the queue's row locked, so
    that nodes changing different settings at once keep each other's changes; a new or
    changed rate limit starts full."""
    await conn.execute(_ENSURE_ROW, {"queue": queue})
    locked = await (await conn.execute(_LOCKED, {"queue": queue})).fetchone()
    assert locked is not None  # the row was just ensured
    *columns, has_bucket = locked
    old = _config(*columns)
    config = change(old)
    limit = config.rate_limit
    keep_bucket = (
        limit is not None
        and has_bucket
        and old.rate_limit is not None
        and (_limit_pair(old.rate_limit) == _limit_pair(limit))
    )
    full = TokenBucket.full(limit, now_ms) if limit is not None else None
    policy = config.retry_policy
    params: dict[str, object] = {
        "queue": queue,
        "paused": config.paused,
        "capacity": None if limit is None else float(limit.capacity),
        "refill": None if limit is None else float(limit.refill_rate),
        "tokens": None if full is None else full.tokens,
        "at": None if full is None else full.updated_at_ms,
        "keep_bucket": keep_bucket,
        "base": policy.base_backoff_ms,
        "multiplier": float(policy.multiplier),
        "max": policy.max_backoff_ms,
        "jitter": policy.jitter,
        "max_inflight": config.max_inflight,
    }
    await conn.execute(_SAVE, params)


def _limit_pair(limit: RateLimit) -> tuple[float, float]:
    return (float(limit.capacity), float(limit.refill_rate))
