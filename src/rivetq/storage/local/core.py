"""The engine core: open/recover/close, commit with undo, typed reads, checkpoints.

Write operations decide and apply their changes synchronously on the event loop (so
two concurrent calls can never both win a job or an idempotency key), submit one WAL
record, and return only once it is durable. If the WAL write fails, every change not
yet durable is undone, newest first, before any caller resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import msgspec

from rivetq.errors import StorageUnavailable
from rivetq.models import Job
from rivetq.storage.local.codec import (
    META,
    QUEUE,
    JobMeta,
    QueueRecord,
    decode_changes,
    encode_changes,
    job_of,
    meta_decoder,
    meta_key,
    payload_key,
    queue_decoder,
    queue_key,
)
from rivetq.storage.local.index import Index
from rivetq.storage.local.keys import expired_time_keys, forget
from rivetq.storage.local.kv import CorruptStore, KVStore
from rivetq.storage.local.layers import Layers, Txn
from rivetq.storage.local.lock import DataDirLock
from rivetq.storage.local.options import LocalOptions
from rivetq.storage.local.order_build import build_order_keys
from rivetq.storage.local.record import TYPE_CHANGES, Frame
from rivetq.storage.local.recovery import LogTail, recover_log
from rivetq.storage.local.space import SpaceGuard
from rivetq.storage.local.wal import WalWriter

__all__ = ["Core"]

log = logging.getLogger("rivetq.storage.local")
T = TypeVar("T")
_MIN_CHECKPOINT_BYTES = 1 << 20
_INDEXED = frozenset((META, QUEUE))  # the tables whose changes the index follows


class Core:
    def __init__(self, options: LocalOptions) -> None:
        self.options = options
        self._index: Index | None = None
        self._lock = DataDirLock(options.data_dir)
        self._store: KVStore | None = None
        self._layers: Layers | None = None
        self._wal: WalWriter | None = None
        self._pending: deque[tuple[int, Txn]] = deque()
        self._bytes_since_checkpoint = 0
        self._checkpoint_lock = asyncio.Lock()
        self.checkpoint_due = asyncio.Event()
        self._room = asyncio.Event()  # set (and replaced) whenever a checkpoint freezes the overlay
        self._stopping = False
        self._key_cutoff_ms: int | None = None  # idempotency keys recorded at or before this expired
        reserve = options.space_reserve or 2 * options.segment_size
        self.space = SpaceGuard(
            options.io, options.data_dir, reserve_bytes=reserve, low_water_bytes=reserve, on_alarm=self._alarmed
        )

    # -- lifecycle ----------------------------------------------------------------

    async def open(self) -> None:
        self.options.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock.acquire()
        try:
            self.space.open()  # before recovery: on a full disk, the released reserve lets it write
            tail = await asyncio.to_thread(self._recover)
            self._wal = WalWriter(
                self.options.io,
                self.options.data_dir / "wal",
                tail,
                segment_size=self.options.segment_size,
                fsync=self.options.fsync,
                on_fsync=self.options.on_fsync,
                on_failure=self._undo_not_durable,
            )
        except BaseException:
            self._release()
            raise
        if self._bytes_since_checkpoint >= self._checkpoint_after():
            self.checkpoint_due.set()  # a long replay: move it into LMDB soon

    def _recover(self) -> LogTail:
        store = self._store = KVStore(self.options.data_dir / "kv", map_size=self.options.map_size)
        build_order_keys(store)
        layers = self._layers = Layers(store)
        index = self._index = Index(layers, self.options.order_window)

        def replay(_lsn: int, frame: Frame) -> None:
            if frame.rtype == TYPE_CHANGES:
                for key, value in decode_changes(frame.body):
                    self._replay_change(key, value)
                self._bytes_since_checkpoint += len(frame.body)

        applied_lsn = store.applied_lsn()
        try:
            index.load()
            tail = recover_log(
                self.options.io,
                self.options.data_dir / "wal",
                after_lsn=applied_lsn,
                segment_size=self.options.segment_size,
                replay=replay,
                wal_tail=store.wal_tail(),
                accept_loss=self.options.accept_wal_loss,
            )
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError) as error:
            raise CorruptStore(self._kv_path, f"a record does not read back: {error!r}") from None
        self._record_log_end(store, applied_lsn, tail)
        return tail

    def _replay_change(self, key: bytes, value: bytes | None) -> None:
        """A logged change, with the index changes it implies (which are not logged)."""
        if key[:1] in _INDEXED:
            old = self.layers.get(key)
            self.layers.set(key, value)
            self._on_change(key, old, value)
        else:
            self.layers.set(key, value)

    def _record_log_end(self, store: KVStore, applied_lsn: int, tail: LogTail) -> None:
        """Record the log's newest segment now, so deleting it (or all of the log) before
        the first checkpoint is caught at the next start."""
        first, path, _ = tail.segments[-1]
        try:
            store.write({}, applied_lsn, (first, path.stat().st_size))
        except StorageUnavailable as error:
            raise StorageUnavailable(f"recording where the log ends in {store.path}: {error}") from None

    async def close(self) -> None:
        """Refuse new writes, let pending ones finish, checkpoint (so the next start
        replays nothing), release everything."""
        wal = self._wal
        if wal is None:
            return
        wal.stop_accepting()
        try:
            await wal.wait_durable(wal.last_lsn)
            if wal.unavailable_reason() is None:
                await self.checkpoint()
        finally:
            self._wal = None
            await wal.close()
            self._release()

    def _release(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
        self._lock.release()

    # -- writes -----------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._wal is not None

    @property
    def wal(self) -> WalWriter:
        if self._wal is None:
            raise StorageUnavailable("the storage is not open")
        return self._wal

    @property
    def index(self) -> Index:
        assert self._index is not None
        return self._index

    @property
    def layers(self) -> Layers:
        assert self._layers is not None
        return self._layers

    def copy_store(self, directory: Path) -> int:
        """A consistent copy of the store (from any thread); returns its applied LSN."""
        if self._store is None:
            raise StorageUnavailable("the storage is not open")
        return self._store.copy_to(directory)

    def txn(self) -> Txn:
        """A transaction for one write; raises at once if writes are refused."""
        self.wal.check_writable()
        return Txn(self.layers, self._on_change)

    async def run(self, build: Callable[[Txn], T]) -> T:
        """One write: ``build`` decides and applies its changes (no awaiting, so no
        other call interleaves), then the record is made durable. Once the changes not
        yet frozen by a checkpoint reach twice its trigger (clients writing faster than
        checkpoints go), a write waits for the next one to start, so the overlay (memory,
        and the WAL a restart replays) stays a few checkpoints' worth."""
        while self._bytes_since_checkpoint >= 2 * self._checkpoint_after() and not self._stopping:
            self.checkpoint_due.set()
            await self._room.wait()
        return await self._run_now(build)

    async def _run_now(self, build: Callable[[Txn], T]) -> T:
        txn = self.txn()
        try:
            result = build(txn)
        except BaseException:
            txn.undo()
            raise
        await self.commit(txn)
        return result

    async def commit(self, txn: Txn) -> None:
        """Make ``txn`` durable (a txn without changes waits for what it observed)."""
        wal = self.wal
        if not txn.changes:
            await wal.wait_durable(wal.last_lsn)
            return
        # The last value of each key is enough: replay applies a record's changes in order.
        body = encode_changes(list({key: new for key, _, new in txn.changes}.items()))
        try:
            lsn = wal.submit(TYPE_CHANGES, body)
        except StorageUnavailable:
            txn.undo()
            raise
        self._pending.append((lsn, txn))
        self._bytes_since_checkpoint += len(body)
        if self._bytes_since_checkpoint >= self._checkpoint_after():
            self.checkpoint_due.set()
        await wal.wait_durable(lsn)
        durable = wal.last_durable_lsn
        while self._pending and self._pending[0][0] <= durable:
            self._pending.popleft()

    async def read(self, compute: Callable[[], T]) -> T:
        """``compute()`` once everything it may have seen is durable (recomputed if a
        write it saw failed and was undone)."""
        wal = self.wal
        lsn = wal.last_lsn
        result = compute()
        try:
            await wal.wait_durable(lsn)
        except StorageUnavailable:
            return compute()
        return result

    def _undo_not_durable(self) -> None:
        durable = self.wal.last_durable_lsn
        while self._pending and self._pending[-1][0] > durable:
            self._pending.pop()[1].undo()
        self.space.check(force=True)  # a full disk raises the alarm now, not at the next look

    def _checkpoint_after(self) -> int:
        """WAL bytes that make a checkpoint due: under the space alarm, every segment's
        worth, so the segments the drain writes are deleted as it goes; else never more
        than half the space reserve, so a checkpoint fits in it."""
        if self.space.alarm:
            return self.options.segment_size
        return min(self.options.checkpoint_bytes, max(self.space.reserve_bytes // 2, _MIN_CHECKPOINT_BYTES))

    def _alarmed(self) -> None:
        self.checkpoint_due.set()

    def _on_change(self, key: bytes, old: bytes | None, new: bytes | None) -> None:
        tag = key[:1]
        if tag == META:
            self.index.on_meta(
                key[1:].decode(),
                None if old is None else meta_decoder.decode(old),
                None if new is None else meta_decoder.decode(new),
            )
        elif tag == QUEUE:
            self.index.on_queue(key[1:].decode(), None if new is None else queue_decoder.decode(new))

    # -- typed reads ----------------------------------------------------------------

    def meta(self, job_id: str) -> JobMeta | None:
        """The job's metadata; a record that does not decode is damage, named (startup
        reads no job, so this is where it shows)."""
        raw = self.layers.get(meta_key(job_id))
        if raw is None:
            return None
        try:
            return meta_decoder.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError) as error:
            log.error("storage_corrupt: the metadata of job %s does not read back: %r", job_id, error)
            raise CorruptStore(self._kv_path, f"a record does not read back: job {job_id}: {error!r}") from None

    def job(self, job_id: str) -> Job | None:
        meta = self.meta(job_id)
        return None if meta is None else self.job_with_meta(job_id, meta)

    def indexed_meta(self, job_id: str) -> JobMeta:
        """The metadata of a job the indexes hold (its absence is damage, not a bug)."""
        meta = self.meta(job_id)
        if meta is None:
            raise self._missing(job_id, "metadata")
        return meta

    def job_with_meta(self, job_id: str, meta: JobMeta) -> Job:
        """The job from a meta the caller already holds (e.g. one it just wrote)."""
        payload = self.layers.get(payload_key(job_id))
        if payload is None:
            raise self._missing(job_id, "payload")
        return job_of(job_id, meta, payload)

    def _missing(self, job_id: str, part: str) -> CorruptStore:
        log.error("storage_corrupt: job %s has no %s record", job_id, part)
        return CorruptStore(self._kv_path, f"job {job_id} has no {part} record")

    @property
    def _kv_path(self) -> Path:
        return self.options.data_dir / "kv"

    def queue_record(self, queue: str) -> QueueRecord | None:
        raw = self.layers.get(queue_key(queue))
        return None if raw is None else queue_decoder.decode(raw)

    # -- checkpoints ----------------------------------------------------------------

    async def checkpoint(self) -> None:
        """Write the changes since the last checkpoint to LMDB in one synced
        transaction, with the LSN they cover; then drop WAL segments below it."""
        async with self._checkpoint_lock:
            self.index.flush_counts()
            generation = self.layers.freeze()
            lsn = self.wal.last_lsn
            self._bytes_since_checkpoint = 0
            self.checkpoint_due.clear()
            self._make_room()
            if not await self._write_generation(generation, lsn):
                return  # the generation stays frozen; the next checkpoint retries it
            await self.wal.delete_below(lsn)

    def _make_room(self) -> None:
        self._room.set()
        self._room = asyncio.Event()

    async def _write_generation(self, generation: dict[bytes, bytes | None], lsn: int) -> bool:
        wal, store = self.wal, self._store
        assert store is not None
        try:
            await wal.wait_durable(lsn)
            await asyncio.to_thread(store.write, generation, lsn, wal.newest_segment())
        except StorageUnavailable as error:
            log.error("checkpoint failed, will retry: %s", error)
            return False
        self.layers.checkpointed()
        self.index.checkpointed()
        return True

    def note_key_cutoff(self, cutoff_ms: int) -> None:
        if self._key_cutoff_ms is None or cutoff_ms > self._key_cutoff_ms:
            self._key_cutoff_ms = cutoff_ms

    async def forget_expired_keys(self, batch: int = 10_000) -> int:
        """Delete every checkpointed idempotency key older than the dedup window the latest
        insert used, ``batch`` per write (each like any other write). A cap per checkpoint
        instead let keys pile up for good once more arrived per interval than it allowed."""
        cutoff, store = self._key_cutoff_ms, self._store
        if cutoff is None or store is None:
            return 0
        forgotten, after = 0, b""
        while self.wal.unavailable_reason() is None:
            stale = await asyncio.to_thread(expired_time_keys, store, cutoff, batch, after)
            if stale:
                # Not held back for room: this runs in the checkpointer, which makes the room.
                forgotten += await self._run_now(functools.partial(forget, stale=stale))
            if len(stale) < batch:
                break
            after = stale[-1]
        return forgotten

    def stop_checkpoints(self) -> None:
        """Make ``run_checkpoints`` return after the checkpoint it may be writing.
        (A flag, not task cancellation: ``wait_for`` can swallow a cancel on 3.11.)"""
        self._stopping = True
        self.checkpoint_due.set()
        self._make_room()

    async def run_checkpoints(self) -> None:
        """The background checkpointer: on the size trigger or the interval. A failed
        checkpoint loses nothing (the WAL still holds it): log loudly, try again."""
        interval_s = self.options.checkpoint_interval_ms / 1000
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval_s):
                    await self.checkpoint_due.wait()
            if self._stopping:
                continue
            if not (self.layers.active or self.layers.frozen):
                self.checkpoint_due.clear()  # nothing to write (the space alarm asks regardless)
                continue
            try:
                await self.checkpoint()
                await self.forget_expired_keys()
            except Exception:  # the supervisor of this loop: keep trying, never die silently
                log.exception("checkpoint failed; the WAL keeps every change until one succeeds")
