"""The WAL writer: group commit of framed records into rotating segments.

Callers ``submit`` records synchronously (getting their LSN) and ``wait_durable``.
Everything submitted so far is written as one write group with one ``write`` and one
``fdatasync``; then every waiter wakes. One writer task on the event loop does this: it
writes a group (a ``pwrite`` into the page cache takes microseconds) and, with fsync on,
awaits its ``fdatasync`` through the kernel's asynchronous I/O (``FileIO.sync_data``),
so neither the loop nor a Python thread sits in the flush.

Failures: a failed write (ENOSPC, EIO) is cut back so the log stays valid, and fails
that group and everything submitted after it; later writes may succeed again. A failed
fsync is final until restart: the kernel may have dropped the dirty pages, so the
writer never retries it and pretends it worked.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

from rivetq.errors import StorageUnavailable
from rivetq.storage.local.fileio import DataSyncer, FileIO
from rivetq.storage.local.record import batch_frame, encode_frame, seal_frame
from rivetq.storage.local.recovery import LogTail
from rivetq.storage.local.segment import HEADER_SIZE, create_segment, segment_path

__all__ = ["Shippable", "WalWriter"]

log = logging.getLogger("rivetq.storage.wal")


class _WriteFailed(Exception):
    def __init__(self, reason: str, *, fatal: bool, no_space: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fatal = fatal
        self.no_space = no_space


class _Group:
    """Records written and made durable together, and the futures of those waiting."""

    __slots__ = ("first_lsn", "frames", "last_lsn", "waiters")

    def __init__(self, first_lsn: int) -> None:
        self.first_lsn = first_lsn
        self.frames: list[bytes] = []
        self.last_lsn = 0
        self.waiters: list[asyncio.Future[None]] = []


class Shippable(NamedTuple):
    """The durable part of the log: each segment's (first LSN, path, durable end offset),
    and the last durable LSN (the last record of the last segment listed)."""

    segments: list[tuple[int, Path, int]]
    durable_lsn: int


class WalWriter:
    """Groups become durable in LSN order, one at a time; everything runs on the loop.

    While a group's ``fdatasync`` is in flight the next group fills; the writer takes
    it as soon as the flush completes, so a group holds every record submitted during
    the previous flush. The flush completes through an eventfd the loop polls: no
    thread hand-off, and no wait for the GIL after the kernel is done (a Python thread
    in ``os.fdatasync`` must win the GIL back from a busy loop before anyone hears of
    it, which cost ~0.3 ms per group under load). Each waiter has a future of its own,
    so a cancelled caller cancels nobody else."""

    def __init__(
        self,
        io: FileIO,
        wal_dir: Path,
        tail: LogTail,
        *,
        segment_size: int,
        fsync: bool,
        on_fsync: Callable[[float], None] | None,
        on_failure: Callable[[], None],
    ) -> None:
        self._io, self._dir, self._segment_size = io, wal_dir, segment_size
        self._on_fsync, self._on_failure = on_fsync, on_failure
        self._segments = list(tail.segments)  # (first LSN, path, bytes used); guarded by _lock
        self._lock = threading.Lock()
        self._fd = io.open_existing(self._segments[-1][1])
        self._offset = self._segments[-1][2]
        self._newest_size = os.fstat(self._fd).st_size  # preallocated: a shorter file was cut
        self._next_lsn = tail.next_lsn
        self._durable_lsn = tail.next_lsn - 1
        self._durable_at = (self._segments[-1][0], self._offset)  # (segment, offset) where durable groups end
        self._holds: dict[str, int] = {}  # who needs the segments holding records from this LSN on
        self.max_held_bytes = 0  # past this much log, holds no longer keep segments (0: no bound)
        self._open: deque[_Group] = deque()  # submitted, not yet durable or failed
        self._pending: _Group | None = None  # filling, not yet taken by the writer
        self._syncer: DataSyncer | None = io.data_syncer() if fsync else None
        self._fatal: str | None = None
        self._disk_error: str | None = None
        self._space_needed = 0  # after ENOSPC: the free bytes that make the log writable again
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="rivetq-wal-files")  # segment create/delete
        self._loop = asyncio.get_running_loop()
        self._closing = False
        self._idle: asyncio.Future[None] | None = None  # set while the writer waits for work
        self._stopping = False
        self._writer = self._loop.create_task(self._run(), name="rivetq-wal")

    @property
    def last_lsn(self) -> int:
        """The LSN of the last submitted record."""
        return self._next_lsn - 1

    @property
    def last_durable_lsn(self) -> int:
        return self._durable_lsn

    def stop_accepting(self) -> None:
        """Refuse new records (closing); what is queued is still written."""
        self._closing = True

    def unavailable_reason(self) -> str | None:
        """Why writes fail, or None. After a full disk the answer follows the free space
        (enough for a new segment), not the luck of the last write: a small write may
        still fit while the next segment cannot be made, and space may come back while
        nobody writes."""
        if self._space_needed and self._io.free_bytes(self._dir) >= self._space_needed:
            self._space_needed, self._disk_error = 0, None
        return self._fatal or self._disk_error

    def check_writable(self) -> None:
        if self._fatal is not None or self._closing:
            raise StorageUnavailable(self._fatal or "the storage is closed")

    def submit(self, rtype: int, body: bytes) -> int:
        """Queue one record; returns its LSN. Never blocks. An idle writer resumes
        after this loop iteration, so records submitted in the same iteration share a
        group."""
        self.check_writable()
        frame = encode_frame(rtype, body)
        lsn = self._next_lsn
        self._next_lsn += 1
        group = self._pending
        if group is None:
            group = self._pending = _Group(lsn)
            self._open.append(group)
        group.frames.append(frame)
        group.last_lsn = lsn
        self._wake()
        return lsn

    async def wait_durable(self, lsn: int) -> None:
        """Return once record ``lsn`` is on disk (or in the kernel, with fsync off)."""
        if lsn <= self._durable_lsn:
            return
        group = next((group for group in self._open if lsn <= group.last_lsn), None)
        if group is None:
            raise StorageUnavailable(self._fatal or "WAL write failed")
        waiter = self._loop.create_future()
        group.waiters.append(waiter)
        await waiter

    def newest_segment(self) -> tuple[int, int]:
        """(first LSN, preallocated size) of the segment being appended to."""
        with self._lock:
            return self._segments[-1][0], self._newest_size

    def gauges(self) -> dict[str, float]:
        with self._lock:
            return {"wal_segments": float(len(self._segments)), "wal_size_bytes": float(self._used_bytes())}

    def _used_bytes(self) -> int:
        return sum(size for _, _, size in self._segments[:-1]) + self._offset

    def shippable(self) -> Shippable:
        """What is durable, for a backup to copy (from any thread)."""
        with self._lock:
            durable_first, durable_end = self._durable_at
            segments = [(first, path, used) for first, path, used in self._segments if first < durable_first]
            path = segment_path(self._dir, durable_first)
            return Shippable([*segments, (durable_first, path, durable_end)], self._durable_lsn)

    def hold(self, holder: str, lsn: int | None) -> None:
        """Keep the segments holding records from ``lsn`` on (None: release), e.g. until a
        backup has copied them: checkpoints delete no segment a hold needs, unless the log
        has grown past ``max_held_bytes``."""
        with self._lock:
            if lsn is None:
                self._holds.pop(holder, None)
            else:
                self._holds[holder] = lsn

    def _deletable_up_to(self, applied_lsn: int) -> int:
        if not self._holds:
            return applied_lsn
        if self.max_held_bytes and self._used_bytes() > self.max_held_bytes:
            log.warning("WAL over %d bytes: deleting segments a backup still needs", self.max_held_bytes)
            return applied_lsn
        return min(applied_lsn, min(self._holds.values()) - 1)

    async def delete_below(self, applied_lsn: int) -> int:
        """Delete segments whose records are all at or below ``applied_lsn``."""
        return await self._loop.run_in_executor(self._executor, self._delete_below, applied_lsn)

    async def close(self) -> None:
        """Write what is pending, then stop; safe to call twice."""
        self._closing = True
        with contextlib.suppress(StorageUnavailable):
            await self.wait_durable(self.last_lsn)
        if not self._writer.done():
            self._stopping = True
            self._wake()
            await self._writer
        if self._syncer is not None:
            self._syncer.close()
            self._syncer = None
        if self._fd >= 0:
            self._io.close(self._fd)
            self._fd = -1
        self._executor.shutdown(wait=True)

    # -- the writer task ----------------------------------------------------------

    def _wake(self) -> None:
        if self._idle is not None and not self._idle.done():
            self._idle.set_result(None)

    async def _run(self) -> None:
        while True:
            group, self._pending = self._pending, None
            if group is None:
                if self._stopping:
                    return
                self._idle = self._loop.create_future()
                await self._idle
                self._idle = None
                continue
            failure = await self._write_reporting(group)
            if failure is not None:
                self._fail(failure)
                continue
            self._open.popleft()
            with self._lock:
                self._durable_lsn = group.last_lsn
                self._durable_at = (self._segments[-1][0], self._offset)
            if not self._space_needed:
                self._disk_error = None
            for waiter in group.waiters:
                if not waiter.done():  # a cancelled caller
                    waiter.set_result(None)

    def _fail(self, failure: _WriteFailed) -> None:
        """Fail this group and everything submitted after it (they were decided on top
        of it); the owner undoes their effects before any waiter resumes."""
        if failure.fatal:
            self._fatal = f"WAL fsync failed, writes refused until restart: {failure.reason}"
        else:
            self._disk_error = f"WAL write failed: {failure.reason}"
            self._space_needed = self._segment_size if failure.no_space else 0
        self._on_failure()
        error = StorageUnavailable(self._fatal or self._disk_error or failure.reason)
        self._pending = None
        failed, self._open = self._open, deque()
        for group in failed:
            for waiter in group.waiters:
                if not waiter.done():
                    waiter.set_exception(error)
        self._next_lsn = self._durable_lsn + 1

    async def _write_reporting(self, group: _Group) -> _WriteFailed | None:
        try:
            await self._write_group(group.first_lsn, group.frames)
        except _WriteFailed as error:
            return error
        except Exception as error:  # a bug must not leave waiters hanging
            log.exception("WAL writer failed")
            return _WriteFailed(repr(error), fatal=True)
        return None

    async def _write_group(self, first_lsn: int, frames: list[bytes]) -> None:
        body = b"".join(frames)
        data = batch_frame(len(frames), len(body)) + body
        if self._offset > HEADER_SIZE and self._offset + len(data) > self._segment_size:
            await self._rotate(first_lsn)
        start = self._offset
        try:
            self._io.write_all(self._fd, data, start)
        except OSError as error:
            self._cut_back(start, error)
        with self._lock:
            self._offset = start + len(data)
        if self._syncer is not None:
            began = time.perf_counter()
            try:
                await self._io.sync_data(self._syncer, self._fd)
            except OSError as error:
                raise _WriteFailed(f"fdatasync: {error}", fatal=True) from error
            if self._on_fsync is not None:
                self._on_fsync(time.perf_counter() - began)

    def _cut_back(self, start: int, error: OSError) -> None:
        """Drop a failed write's bytes; the file keeps its size (sparse zeros), since a
        segment shorter than it was created reads as cut at recovery."""
        try:
            self._io.truncate(self._fd, start)
            if start < self._newest_size:
                self._io.truncate(self._fd, self._newest_size)
        except OSError as cut_error:
            raise _WriteFailed(f"write: {error}; cutting it back: {cut_error}", fatal=True) from error
        raise _WriteFailed(f"write: {error}", fatal=False, no_space=error.errno == errno.ENOSPC) from error

    async def _rotate(self, first_lsn: int) -> None:
        """Off the loop: a new segment is allocated and synced (milliseconds). Then the
        current one is sealed with a record naming the new one, so recovery knows the
        new segment exists (deleted, it would otherwise look like a shorter log)."""
        size = max(self._segment_size, HEADER_SIZE)
        try:
            fd = await self._loop.run_in_executor(self._executor, create_segment, self._io, self._dir, first_lsn, size)
        except OSError as error:
            no_space = error.errno == errno.ENOSPC
            raise _WriteFailed(f"creating a WAL segment: {error}", fatal=False, no_space=no_space) from error
        try:
            await self._seal(first_lsn, size)
        except BaseException:
            self._io.close(fd)
            self._io.unlink(segment_path(self._dir, first_lsn))  # the current segment goes on
            raise
        self._io.close(self._fd)
        self._fd = fd
        with self._lock:
            first, path, _ = self._segments[-1]
            self._segments[-1] = (first, path, self._offset)
            self._segments.append((first_lsn, segment_path(self._dir, first_lsn), HEADER_SIZE))
            self._offset = HEADER_SIZE
            self._newest_size = size

    async def _seal(self, next_lsn: int, next_size: int) -> None:
        seal = seal_frame(next_lsn, next_size)
        try:
            self._io.write_all(self._fd, seal, self._offset)
        except OSError as error:
            self._cut_back(self._offset, error)
        self._offset += len(seal)
        if self._syncer is not None:
            try:
                await self._io.sync_data(self._syncer, self._fd)
            except OSError as error:
                raise _WriteFailed(f"fdatasync: {error}", fatal=True) from error

    def _delete_below(self, applied_lsn: int) -> int:
        deleted = 0
        while True:
            with self._lock:
                if len(self._segments) < 2 or self._segments[1][0] - 1 > self._deletable_up_to(applied_lsn):
                    break
                _, path, _ = self._segments.pop(0)
            self._io.unlink(path)
            deleted += 1
        if deleted:
            self._io.fsync_dir(self._dir)
        return deleted
