"""``LocalStorage``: the embedded engine behind ``rivetq.storage.base.Storage``.

Each write method decides and applies its changes in one synchronous step through
``Core.run`` (one WAL record per call, batches included) and returns once durable.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence

import msgspec

from rivetq.backup.online import online_backup
from rivetq.backup.shipper import Shipper
from rivetq.errors import JobNotFound, LeaseLost, QueueNotFound, RivetQError, StateConflict, StorageUnavailable
from rivetq.models import (
    AckResult,
    BackupResult,
    InsertResult,
    Job,
    JobState,
    LeaseResult,
    NewJob,
    QueueConfig,
    StoredState,
)
from rivetq.storage.base import WakeupCallback, inflight_refusal
from rivetq.storage.local.codec import (
    SEQ_KEY,
    IdempotencyRecord,
    JobMeta,
    QueueRecord,
    encode,
    idempotency_decoder,
    idempotency_key,
    idempotency_prefix,
    meta_key,
    payload_key,
    queue_key,
    seq_decoder,
)
from rivetq.storage.local.core import Core
from rivetq.storage.local.keys import time_key
from rivetq.storage.local.layers import Txn
from rivetq.storage.local.options import LocalOptions
from rivetq.storage.local.queue_ops import lease_from, new_bucket
from rivetq.storage.local.reads import Reads
from rivetq.storage.local.schedules import Schedules

__all__ = ["LocalStorage"]

_replace = msgspec.structs.replace


class LocalStorage(Reads, Schedules):
    def __init__(self, options: LocalOptions) -> None:
        super().__init__(Core(options))
        self._checkpointer: asyncio.Task[None] | None = None
        self._wakeup: WakeupCallback | None = None
        self._shipper: Shipper | None = None

    async def open(self) -> None:
        await self._core.open()
        self._checkpointer = asyncio.get_running_loop().create_task(
            self._core.run_checkpoints(), name="rivetq-checkpointer"
        )
        if self._core.options.backup.url:
            self._shipper = Shipper(
                self._core.options.backup, self._core.wal, self._core.copy_store, self._core.options.data_dir
            )
            self._shipper.start()

    async def close(self) -> None:
        if self._shipper is not None:
            await asyncio.to_thread(self._shipper.stop)  # its last pass ships what is durable
            self._shipper = None
        if self._checkpointer is not None:
            self._core.stop_checkpoints()
            await self._checkpointer
            self._checkpointer = None
        await self._core.close()

    async def checkpoint(self) -> None:
        """Checkpoint now (the background task also does it on size and time)."""
        await self._core.checkpoint()

    def set_wakeup(self, callback: WakeupCallback) -> None:
        # One process owns the data dir, so other processes never change it.
        self._wakeup = callback

    def gauges(self) -> dict[str, float]:
        if not self._core.is_open:
            return {}
        space = self._core.space
        alarm = 1.0 if space.check() else 0.0
        shipping = self._shipper.gauges() if self._shipper is not None else {}
        wal = self._core.wal.gauges()
        return {**wal, **shipping, "disk_free_bytes": float(space.free_bytes), "disk_space_alarm": alarm}

    def unavailable_reason(self) -> str | None:
        if not self._core.is_open:
            return "the storage is not open"
        return self._core.wal.unavailable_reason() or self._core.space.check()

    def notices(self) -> list[str]:
        failing = self._shipper.failing if self._shipper is not None else None
        return [failing] if failing else []

    async def backup(self, dest: str) -> BackupResult:
        core = self._core
        return await asyncio.to_thread(
            online_backup, dest, core.options.backup, core.wal, core.copy_store, core.options.data_dir
        )

    # -- writes ---------------------------------------------------------------

    async def insert(
        self, queue: str, jobs: Sequence[NewJob], *, now_ms: int, dedup_window_ms: int
    ) -> list[InsertResult]:
        if (alarm := self._core.space.check()) is not None:
            raise StorageUnavailable(alarm)
        self._core.note_key_cutoff(now_ms - dedup_window_ms)
        return await self._core.run(lambda txn: self._insert(txn, queue, jobs, now_ms, now_ms - dedup_window_ms))

    def _insert(self, txn: Txn, queue: str, jobs: Sequence[NewJob], now_ms: int, since_ms: int) -> list[InsertResult]:
        plan = self._plan_insert(queue, jobs, since_ms)
        raw_seq = txn.get(SEQ_KEY)
        seq = 0 if raw_seq is None else seq_decoder.decode(raw_seq)
        for new, result in zip(jobs, plan, strict=True):
            if result.duplicate:
                continue
            seq += 1
            meta = JobMeta(queue, new.priority, new.eta_ms, new.max_retries, 0, now_ms, seq, StoredState.WAITING)
            txn.put(meta_key(new.id), encode(_replace(meta, idempotency_key=new.idempotency_key, headers=new.headers)))
            txn.put(payload_key(new.id), new.payload)
            if new.idempotency_key is not None:
                record_key = idempotency_key(queue, new.idempotency_key)
                txn.put(record_key, encode(IdempotencyRecord(new.id, now_ms)))
                txn.put(time_key(now_ms, record_key), b"")
        added = sum(1 for result in plan if not result.duplicate)
        if added:
            txn.put(SEQ_KEY, encode(seq))
        record = self._core.queue_record(queue)
        if record is None or added:
            record = record or QueueRecord()
            counters = _replace(record.counters, enqueued_total=record.counters.enqueued_total + added)
            txn.put(queue_key(queue), encode(_replace(record, counters=counters)))
        return plan

    def _plan_insert(self, queue: str, jobs: Sequence[NewJob], since_ms: int) -> list[InsertResult]:
        """Every result is decided before anything changes: a refused batch changes nothing."""
        batch_ids: set[str] = set()
        batch_keys: dict[str, str] = {}
        plan: list[InsertResult] = []
        for new in jobs:
            if new.id in batch_ids or self._core.meta(new.id) is not None:
                raise StateConflict(f"job {new.id} already exists")
            key = new.idempotency_key
            first = None if key is None else batch_keys.get(key) or self._first_with_key(queue, key, since_ms)
            if first is not None:
                plan.append(InsertResult(job_id=first, duplicate=True))
                continue
            batch_ids.add(new.id)
            if key is not None:
                batch_keys[key] = new.id
            plan.append(InsertResult(job_id=new.id, duplicate=False))
        return plan

    def _first_with_key(self, queue: str, key: str, since_ms: int) -> str | None:
        raw = self._core.layers.get(idempotency_key(queue, key))
        if raw is None:
            return None
        recorded = idempotency_decoder.decode(raw)
        return recorded.job_id if recorded.recorded_at_ms > since_ms else None

    async def lease(
        self,
        queue: str,
        *,
        max_jobs: int,
        visibility_ms: int,
        now_ms: int,
        new_lease_id: Callable[[], str],
    ) -> LeaseResult:
        return await self._core.run(
            lambda txn: lease_from(self._core, txn, queue, max_jobs, now_ms + visibility_ms, now_ms, new_lease_id)
        )

    async def ack(self, job_id: str, lease_id: str, *, now_ms: int) -> str:
        def build(txn: Txn) -> str:
            queue = self._ack(txn, job_id, lease_id, now_ms)
            self._count(txn, queue, "acked_total")
            return queue

        return await self._core.run(build)

    def _ack(self, txn: Txn, job_id: str, lease_id: str, now_ms: int) -> str:
        """Delete the leased job; returns its queue (the caller counts the ack)."""
        meta = self._live_lease(job_id, lease_id, now_ms)
        txn.put(meta_key(job_id), None)
        txn.put(payload_key(job_id), None)
        return meta.queue

    async def ack_batch(self, acks: Sequence[tuple[str, str]], *, now_ms: int) -> list[AckResult]:
        def build(txn: Txn) -> list[AckResult]:
            acked: Counter[str] = Counter()
            results = [self._ack_one(txn, job_id, lease, now_ms, acked) for job_id, lease in acks]
            for queue, count in acked.items():  # one counter update per queue, not per job
                self._count(txn, queue, "acked_total", count)
            return results

        return await self._core.run(build)

    def _ack_one(self, txn: Txn, job_id: str, lease_id: str, now_ms: int, acked: Counter[str]) -> AckResult:
        try:
            queue = self._ack(txn, job_id, lease_id, now_ms)
        except RivetQError as error:
            return AckResult(job_id=job_id, error=error.message, error_code=error.code)
        acked[queue] += 1
        return AckResult(job_id=job_id, queue=queue)

    async def extend(self, job_id: str, lease_id: str, *, expires_at_ms: int, now_ms: int) -> Job:
        def build(txn: Txn) -> Job:
            meta = _replace(self._live_lease(job_id, lease_id, now_ms), lease_expires_at_ms=expires_at_ms)
            return self._put_meta(txn, job_id, meta)

        return await self._core.run(build)

    async def retry(
        self, job_id: str, lease_id: str, *, eta_ms: int, error: str | None, now_ms: int, expired: bool = False
    ) -> Job:
        def build(txn: Txn) -> Job:
            meta = self._failed_attempt(txn, job_id, lease_id, now_ms, expired=expired)
            waiting = _replace(meta, state=StoredState.WAITING, eta_ms=eta_ms, last_error=error)
            return self._put_meta(txn, job_id, waiting)

        return await self._core.run(build)

    async def bury(self, job_id: str, lease_id: str, *, error: str | None, now_ms: int, expired: bool = False) -> Job:
        def build(txn: Txn) -> Job:
            meta = self._failed_attempt(txn, job_id, lease_id, now_ms, expired=expired)
            return self._put_meta(txn, job_id, _replace(meta, state=StoredState.DEAD, last_error=error))

        return await self._core.run(build)

    async def requeue(self, queue: str, job_ids: Sequence[str] | None, *, now_ms: int) -> int:
        def build(txn: Txn) -> int:
            index = self._core.index
            q = index.existing(queue)
            if q is None:
                return 0
            chosen = list(index.job_ids(q, state=JobState.DEAD)) if job_ids is None else self._dead_of(queue, job_ids)
            for job_id in chosen:
                meta = self._core.indexed_meta(job_id)
                txn.put(meta_key(job_id), encode(_replace(meta, state=StoredState.WAITING, tries=0, eta_ms=now_ms)))
            return len(chosen)

        return await self._core.run(build)

    async def delete(self, job_id: str, *, now_ms: int) -> Job:
        def build(txn: Txn) -> Job:
            job = self._core.job(job_id)
            if job is None:
                raise JobNotFound(f"job {job_id} not found")
            if job.state is StoredState.INFLIGHT:
                raise StateConflict(f"job {job_id} is inflight")
            self._forget(txn, [job_id])
            return job

        return await self._core.run(build)

    async def purge(self, queue: str, *, now_ms: int) -> int:
        def build(txn: Txn) -> int:
            q = self._core.index.existing(queue)
            return 0 if q is None else self._forget(txn, list(self._core.index.job_ids(q)))

        return await self._core.run(build)

    async def purge_dlq(self, queue: str, *, now_ms: int) -> int:
        def build(txn: Txn) -> int:
            q = self._core.index.existing(queue)
            return 0 if q is None else self._forget(txn, list(self._core.index.job_ids(q, state=JobState.DEAD)))

        return await self._core.run(build)

    async def delete_queue(self, queue: str, *, force: bool, now_ms: int) -> int:
        def build(txn: Txn) -> int:
            q = self._core.index.existing(queue)
            if q is None:
                raise QueueNotFound(f"queue {queue} not found")
            if q.counts.inflight and not force:
                raise StateConflict(inflight_refusal(queue, q.counts.inflight))
            removed = self._forget(txn, list(self._core.index.job_ids(q)))
            for key, _ in list(self._core.layers.scan(idempotency_prefix(queue))):
                txn.put(key, None)  # their expiry-index entries go when their time comes
            txn.put(queue_key(queue), None)
            return removed

        return await self._core.run(build)

    async def update_queue_config(
        self, queue: str, change: Callable[[QueueConfig], QueueConfig], *, now_ms: int
    ) -> None:
        def build(txn: Txn) -> None:
            record = self._core.queue_record(queue) or QueueRecord()
            config = change(record.config)
            bucket = new_bucket(record, config, now_ms)
            txn.put(queue_key(queue), encode(QueueRecord(config, record.counters, bucket)))

        await self._core.run(build)

    # -- helpers ----------------------------------------------------------------

    def _forget(self, txn: Txn, job_ids: list[str]) -> int:
        for job_id in job_ids:
            txn.put(meta_key(job_id), None)
            txn.put(payload_key(job_id), None)
        return len(job_ids)

    def _dead_of(self, queue: str, job_ids: Sequence[str]) -> list[str]:
        """The ids among ``job_ids`` of dead jobs of ``queue``, each once, in the given order."""
        metas = ((job_id, self._core.meta(job_id)) for job_id in dict.fromkeys(job_ids))
        return [i for i, meta in metas if meta is not None and meta.queue == queue and meta.state is StoredState.DEAD]

    def _put_meta(self, txn: Txn, job_id: str, meta: JobMeta) -> Job:
        txn.put(meta_key(job_id), encode(meta))
        return self._core.job_with_meta(job_id, meta)

    def _count(self, txn: Txn, queue: str, counter: str, by: int = 1) -> None:
        record = self._core.queue_record(queue) or QueueRecord()
        counters = _replace(record.counters, **{counter: getattr(record.counters, counter) + by})
        txn.put(queue_key(queue), encode(_replace(record, counters=counters)))

    def _live_lease(self, job_id: str, lease_id: str, now_ms: int) -> JobMeta:
        meta = self._core.meta(job_id)
        if meta is None:
            raise JobNotFound(f"job {job_id} not found")
        if meta.state is not StoredState.INFLIGHT or meta.lease_id != lease_id:
            raise LeaseLost(f"job {job_id} is not leased with lease {lease_id}")
        if meta.lease_expires_at_ms is None or now_ms >= meta.lease_expires_at_ms:
            raise LeaseLost(f"the lease {lease_id} of job {job_id} expired")
        return meta

    def _failed_attempt(self, txn: Txn, job_id: str, lease_id: str, now_ms: int, *, expired: bool) -> JobMeta:
        """Check the lease rule of ``retry``/``bury``, count the attempt, unlease the job."""
        if expired:
            meta = self._core.meta(job_id)
            due = meta is not None and meta.lease_expires_at_ms is not None and meta.lease_expires_at_ms <= now_ms
            if meta is None or meta.state is not StoredState.INFLIGHT or meta.lease_id != lease_id or not due:
                raise LeaseLost(f"job {job_id} has no expired lease {lease_id}")
        else:
            meta = self._live_lease(job_id, lease_id, now_ms)
            self._count(txn, meta.queue, "nacked_total")
        return _replace(meta, tries=meta.tries + 1, lease_id=None, lease_expires_at_ms=None)
