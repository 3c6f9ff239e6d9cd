"""The WAL writer: group commit of framed records into rotating segments.

Callers ``submit`` records synchronously (getting their LSN) and ``wait_durable``.
Everything submitted so far is written as one write group with one ``write`` and one
``fdatasync`` in a dedicated thread; then every waiter wakes. With fsync off there is
nothing slow to wait for, so the group's ``write`` runs on the event loop itself.

Failures: a failed write (ENOSPC, EIO) is cut back so the log stays valid, and fails
that group and everything submitted after it; later writes may succeed again. A failed
fsync is final until restart: the kernel may have dropped the dirty pages, so the
writer never retries it and pretends it worked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rivetq.errors import StorageUnavailable
from rivetq.storage.local.fileio import FileIO
from rivetq.storage.local.record import batch_frame, encode_frame
from rivetq.storage.local.recovery import LogTail
from rivetq.storage.local.segment import HEADER_SIZE, create_segment, segment_path

__all__ = ["WalWriter"]

log = logging.getLogger("rivetq.storage.wal")


class _WriteFailed(Exception):
    def __init__(self, reason: str, *, fatal: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fatal = fatal


class _Group:
    """Records written and made durable together, and the futures of those waiting."""

    __slots__ = ("first_lsn", "frames", "last_lsn", "waiters")

    def __init__(self, first_lsn: int) -> None:
        self.first_lsn = first_lsn
        self.frames: list[bytes] = []
        self.last_lsn = 0
        self.waiters: list[asyncio.Future[None]] = []


class WalWriter:
    """Groups become durable in LSN order; the event loop owns every waiter.

    With fsync on, one WAL thread writes groups: once woken it takes the group that is
    filling, writes and syncs it, reports it to the loop with one ``call_soon_threadsafe``
    and at once takes the next group if records arrived meanwhile, so the disk never
    waits for a busy loop to start the next group. It sleeps on a lock when nothing is
    pending. Every wake-up of a sleeping thread costs ~40 µs of CPU here, which is why
    fsync off (nothing slow to wait for) writes on the loop itself, and why nothing
    heavier sits on this path: an executor future awaited by a writer task, and a shared
    future behind ``asyncio.shield``, cost more event-loop iterations per group, and a
    ``ThreadPoolExecutor`` work item another ~12 µs. Each waiter has a future of its
    own, so a cancelled caller cancels nobody else.

    ``_busy`` (under ``_groups_lock``) is set when the loop schedules a wake-up and
    cleared by the thread when it finds nothing pending, or by the loop when it fails the
    groups after a failed one: the thread never takes a group decided on top of a
    failure, and the wake lock is never released twice."""

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
        self._io, self._dir, self._segment_size, self._fsync = io, wal_dir, segment_size, fsync
        self._on_fsync, self._on_failure = on_fsync, on_failure
        self._segments = list(tail.segments)  # (first LSN, path, bytes used); guarded by _lock
        self._lock = threading.Lock()
        self._fd = io.open_existing(self._segments[-1][1])
        self._offset = self._segments[-1][2]
        self._next_lsn = tail.next_lsn
        self._durable_lsn = tail.next_lsn - 1
        self._open: deque[_Group] = deque()  # submitted, not yet reported back; loop only
        self._groups_lock = threading.Lock()
        self._pending: _Group | None = None  # filling; guarded by _groups_lock
        self._busy = False  # guarded by _groups_lock
        self._wake = threading.Lock()  # released to wake the thread
        self._wake.acquire()
        self._stopping_thread = False
        self._fatal: str | None = None
        self._disk_error: str | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="rivetq-wal-cleanup")
        self._loop = asyncio.get_running_loop()
        self._closing = False
        self._thread: threading.Thread | None = None
        if fsync:
            self._thread = threading.Thread(target=self._run_thread, name="rivetq-wal", daemon=True)
            self._thread.start()

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
        return self._fatal or self._disk_error

    def check_writable(self) -> None:
        if self._fatal is not None or self._closing:
            raise StorageUnavailable(self._fatal or "the storage is closed")

    def submit(self, rtype: int, body: bytes) -> int:
        """Queue one record; returns its LSN. Never blocks. An idle writer starts at the
        end of this loop iteration, so records submitted in the same iteration share a
        group."""
        self.check_writable()
        frame = encode_frame(rtype, body)
        lsn = self._next_lsn
        self._next_lsn += 1
        with self._groups_lock:
            group = self._pending
            if group is None:
                group = self._pending = _Group(lsn)
                self._open.append(group)
            group.frames.append(frame)
            group.last_lsn = lsn
            start = not self._busy
            self._busy = True
        if start:
            self._loop.call_soon(self._start)
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

    def gauges(self) -> dict[str, float]:
        with self._lock:
            used = sum(size for _, _, size in self._segments[:-1]) + self._offset
            return {"wal_segments": float(len(self._segments)), "wal_size_bytes": float(used)}

    async def delete_below(self, applied_lsn: int) -> int:
        """Delete segments whose records are all at or below ``applied_lsn``."""
        return await self._loop.run_in_executor(self._executor, self._delete_below, applied_lsn)

    async def close(self) -> None:
        """Write what is pending, then stop; safe to call twice."""
        self._closing = True
        with contextlib.suppress(StorageUnavailable):
            await self.wait_durable(self.last_lsn)
        if self._thread is not None:
            with self._groups_lock:
                self._stopping_thread = True
                wake = not self._busy
                self._busy = True
            if wake:
                self._wake.release()
            await asyncio.to_thread(self._thread.join)
            self._thread = None
        if self._fd >= 0:
            self._io.close(self._fd)
            self._fd = -1
        self._executor.shutdown(wait=True)

    # -- on the event loop --------------------------------------------------------

    def _start(self) -> None:
        if self._thread is not None:
            self._wake.release()
            return
        with self._groups_lock:  # fsync off: write here, it only reaches the page cache
            group, self._pending, self._busy = self._pending, None, False
        if group is not None:
            self._group_done(group, self._write_reporting(group))

    def _group_done(self, group: _Group, failure: _WriteFailed | None) -> None:
        if failure is not None:
            self._fail(failure)
            return
        self._open.popleft()
        self._durable_lsn = group.last_lsn
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
        self._on_failure()
        error = StorageUnavailable(self._fatal or self._disk_error or failure.reason)
        with self._groups_lock:
            self._pending = None
            self._busy = False
        failed, self._open = self._open, deque()
        for group in failed:
            for waiter in group.waiters:
                if not waiter.done():
                    waiter.set_exception(error)
        self._next_lsn = self._durable_lsn + 1

    # -- in the WAL thread (fsync on) or on the loop (fsync off) -------------------

    def _run_thread(self) -> None:
        while True:
            self._wake.acquire()
            while True:
                with self._groups_lock:
                    group, self._pending = self._pending, None
                    if group is None:
                        self._busy = False
                        if self._stopping_thread:
                            return
                        break
                failure = self._write_reporting(group)
                self._loop.call_soon_threadsafe(self._group_done, group, failure)
                if failure is not None:
                    break  # _busy stays set until the loop has failed what came after

    def _write_reporting(self, group: _Group) -> _WriteFailed | None:
        try:
            self._write_group(group.first_lsn, group.frames)
        except _WriteFailed as error:
            return error
        except Exception as error:  # a bug must not leave waiters hanging
            log.exception("WAL writer failed")
            return _WriteFailed(repr(error), fatal=True)
        return None

    def _write_group(self, first_lsn: int, frames: list[bytes]) -> None:
        body = b"".join(frames)
        data = batch_frame(len(frames), len(body)) + body
        if self._offset > HEADER_SIZE and self._offset + len(data) > self._segment_size:
            self._rotate(first_lsn)
        start = self._offset
        try:
            self._io.write_all(self._fd, data, start)
        except OSError as error:
            self._cut_back(start, error)
        with self._lock:
            self._offset = start + len(data)
        if self._fsync:
            began = time.perf_counter()
            try:
                self._io.fdatasync(self._fd)
            except OSError as error:
                raise _WriteFailed(f"fdatasync: {error}", fatal=True) from error
            if self._on_fsync is not None:
                self._on_fsync(time.perf_counter() - began)

    def _cut_back(self, start: int, error: OSError) -> None:
        try:
            self._io.truncate(self._fd, start)
        except OSError as cut_error:
            raise _WriteFailed(f"write: {error}; cutting it back: {cut_error}", fatal=True) from error
        raise _WriteFailed(f"write: {error}", fatal=False) from error

    def _rotate(self, first_lsn: int) -> None:
        try:
            fd = create_segment(self._io, self._dir, first_lsn, self._segment_size)
        except OSError as error:
            raise _WriteFailed(f"creating a WAL segment: {error}", fatal=False) from error
        self._io.close(self._fd)
        self._fd = fd
        with self._lock:
            first, path, _ = self._segments[-1]
            self._segments[-1] = (first, path, self._offset)
            self._segments.append((first_lsn, segment_path(self._dir, first_lsn), HEADER_SIZE))
            self._offset = HEADER_SIZE

    def _delete_below(self, applied_lsn: int) -> int:
        deleted = 0
        while True:
            with self._lock:
                if len(self._segments) < 2 or self._segments[1][0] - 1 > applied_lsn:
                    break
                _, path, _ = self._segments.pop(0)
            self._io.unlink(path)
            deleted += 1
        if deleted:
            self._io.fsync_dir(self._dir)
        return deleted
