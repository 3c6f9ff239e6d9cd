"""Per-queue decisions shared by the engine's writes and reads: leasing under a token
bucket, the bucket a new config starts with, and stats from the indexes."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from rivetq.models import Job, LeaseResult, QueueConfig, QueueStats, StoredState
from rivetq.ratelimit import TokenBucket
from rivetq.storage.local.codec import QueueRecord, encode, meta_key, queue_key
from rivetq.storage.local.core import Core
from rivetq.storage.local.index import Index, QueueIndex
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
    index = core.index
    q = index.existing(queue)
    if q is None or q.record is None or q.record.config.paused:
        return _NONE
    record = q.record
    cap = record.config.lease_cap(max_jobs, q.counts.inflight)
    limit = record.config.rate_limit
    bucket = record.bucket
    granted = cap
    if limit is not None:
        granted, bucket = (bucket or TokenBucket.full(limit, now_ms)).take(limit, cap, now_ms)
    picked = index.pop_ready(q, granted, now_ms)
    # Leased first: until their state changes, the picked jobs are still ready jobs.
    jobs = [_lease_one(core, txn, job_id, new_lease_id(), expires_at_ms) for job_id in picked]
    if limit is not None and bucket is not None:
        bucket = bucket.give_back(limit, granted - len(picked))
    held_back = limit is not None and len(picked) == granted < cap and index.has_ready(q, now_ms)
    capped = len(picked) == cap < max_jobs and index.has_ready(q, now_ms)
    if not jobs:
        return LeaseResult(jobs=[], rate_limited=held_back, concurrency_limited=capped)
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


def stats_of(index: Index, q: QueueIndex, now_ms: int) -> QueueStats:
    record = q.record or QueueRecord()
    delayed = index.delayed_at(q, now_ms)
    return QueueStats(
        queue=q.name,
        ready=q.counts.waiting - delayed,
        delayed=delayed,
        inflight=q.counts.inflight,
        dlq=q.counts.dead,
        counters=record.counters,
        config=record.config,
    )
