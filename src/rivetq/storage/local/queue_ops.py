"""Per-queue decisions shared by the engine's writes and reads: leasing under a token
bucket, the bucket a new config starts with, and stats from the indexes."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from rivetq.models import Job, LeaseResult, QueueConfig, QueueStats, StoredState
from rivetq.ratelimit import TokenBucket
from rivetq.storage.local.codec import QueueRecord, encode, meta_key, queue_key
from rivetq.storage.local.core import Core
from rivetq.storage.local.index import QueueIndex
from rivetq.storage.local.layers import Txn

__all__ = ["lease_from", "new_bucket", "stats_of"]

_replace = msgspec.structs.replace
_NONE = LeaseResult(jobs=[], rate_limited=False)


def lease_from(
    core: Core,
    txn: Txn,
    queue: str,
    max_jobs: int,
    expires_at_ms: int,
    now_ms: int,
    new_lease_id: Callable[[], str],
) -> LeaseResult:
    q = core.index.existing(queue)
    if q is None or q.record is None or q.record.config.paused:
        return _NONE
    record = q.record
    cap = record.config.lease_cap(max_jobs, len(q.inflight))
    limit = record.config.rate_limit
    bucket = record.bucket
    held_back = False
    if limit is None:
        picked = q.pop_ready(cap, now_ms)
    else:
        granted, bucket = (bucket or TokenBucket.full(limit, now_ms)).take(limit, cap, now_ms)
        picked = q.pop_ready(granted, now_ms)
        bucket = bucket.give_back(limit, granted - len(picked))
        held_back = len(picked) == granted < cap and q.has_ready(now_ms)
    capped = len(picked) == cap < max_jobs and q.has_ready(now_ms)
    if not picked:
        return LeaseResult(jobs=[], rate_limited=held_back, concurrency_limited=capped)
    jobs = [_lease_one(core, txn, job_id, new_lease_id(), expires_at_ms) for job_id in picked]
    counters = _replace(record.counters, leased_total=record.counters.leased_total + len(jobs))
    txn.put(queue_key(queue), encode(QueueRecord(record.config, counters, bucket)))
    return LeaseResult(jobs=jobs, rate_limited=held_back, concurrency_limited=capped)


def _lease_one(core: Core, txn: Txn, job_id: str, lease_id: str, expires_at_ms: int) -> Job:
    meta = core.indexed_meta(job_id)
    leased = _replace(meta, state=StoredState.INFLIGHT, lease_id=lease_id, lease_expires_at_ms=expires_at_ms)
    txn.put(meta_key(job_id), encode(leased))
    return core.job_with_meta(job_id, leased)


def new_bucket(record: QueueRecord, config: QueueConfig, now_ms: int) -> TokenBucket | None:
    """A new or changed rate limit starts full; an unchanged one keeps its bucket."""
    if config.rate_limit is None:
        return None
    if config.rate_limit != record.config.rate_limit or record.bucket is None:
        return TokenBucket.full(config.rate_limit, now_ms)
    return record.bucket


def stats_of(name: str, q: QueueIndex, now_ms: int) -> QueueStats:
    record = q.record or QueueRecord()
    delayed = q.delayed_at(now_ms)
    return QueueStats(
        queue=name,
        ready=len(q.waiting) - delayed,
        delayed=delayed,
        inflight=len(q.inflight),
        dlq=len(q.dead),
        counters=record.counters,
        config=record.config,
    )
