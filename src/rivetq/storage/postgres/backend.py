"""``PostgresStorage``: the ``Storage`` protocol on PostgreSQL, so several rivetqd nodes
serve the same queues. Every method is one transaction (most are one statement);
``now_ms`` comes from the calling node's clock, so nodes' clocks must be in sync."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Sequence

from rivetq.errors import StateConflict, StorageSetupFailed, StorageUnavailable
from rivetq.models import (
    AckResult,
    BackupResult,
    InsertResult,
    Job,
    JobPage,
    JobState,
    LeaseResult,
    NewJob,
    QueueConfig,
    QueueStats,
    Schedule,
    StoredState,
)
from rivetq.storage.base import NO_BACKUP_POSTGRES, WakeupCallback
from rivetq.storage.postgres import deletion, insert, lease, queues, reads, schedules, transitions
from rivetq.storage.postgres.counters import fold_counters
from rivetq.storage.postgres.database import Connection, Database
from rivetq.storage.postgres.diagnose import setup_connection
from rivetq.storage.postgres.listen import Listener, Notifier
from rivetq.storage.postgres.migrate import LATEST_VERSION, apply_migrations, newer_schema, schema_version

__all__ = ["PostgresStorage"]

_KEY_PURGE_INTERVAL_MS = 60_000
_KEY_PURGE_BATCH = 10_000
_CLOSE_TIMEOUT_S = 2.0
_COUNTER_FOLD_INTERVAL_S = 60.0

log = logging.getLogger(__name__)


class PostgresStorage:
    def __init__(
        self,
        dsn: str,
        *,
        min_pool_size: int = 2,
        max_pool_size: int = 10,
        pool_timeout_s: float = 5.0,
        auto_migrate: bool = False,
    ) -> None:
        self._dsn = dsn
        self._auto_migrate = auto_migrate
        self._db = Database(dsn, min_size=min_pool_size, max_size=max_pool_size, timeout_s=pool_timeout_s)
        self._node_id = secrets.token_hex(6)
        self._notifier = Notifier(self._db, self._node_id)
        self._listener = Listener(dsn, self._node_id, self._wake, self._notifier)
        self._wakeup: WakeupCallback | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._keys_purged_at_ms = 0
        self._closed = False

    async def open(self) -> None:
        """Migrate (or check the schema) on one connection first: a database that refuses
        is then a ``StorageSetupFailed`` naming the cause, not the pool's timeout."""
        if self._auto_migrate:
            await apply_migrations(self._dsn)
        async with setup_connection(self._dsn) as conn:
            version = await schema_version(conn)
        if version > LATEST_VERSION:
            raise newer_schema(version)
        if version != LATEST_VERSION:
            raise StorageSetupFailed(
                f"the PostgreSQL schema is at version {version}, this rivetqd needs {LATEST_VERSION}:"
                " run `rivetqd migrate` (or set storage.auto_migrate: true)"
            )
        await self._db.open()
        self._tasks = [
            asyncio.create_task(self._notifier.run(), name="rivetq-pg-notifier"),
            asyncio.create_task(self._listener.run(), name="rivetq-pg-listener"),
            asyncio.create_task(self._fold_counters(), name="rivetq-pg-counter-fold"),
        ]

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._notifier.stop()
        self._listener.stop()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # A task stuck in a driver call must not hold shutdown forever.
            await asyncio.wait(self._tasks, timeout=_CLOSE_TIMEOUT_S)
        await self._db.close()

    async def _fold_counters(self) -> None:
        """Every minute, fold the counter rows of ended connections (see counters.py)."""
        while not self._closed:
            await asyncio.sleep(_COUNTER_FOLD_INTERVAL_S)
            try:
                await self._db.run(fold_counters, transaction=False)
            except StorageUnavailable as error:
                log.warning("rivetq postgres: could not fold counters: %s", error)

    def set_wakeup(self, callback: WakeupCallback) -> None:
        self._wakeup = callback

    def gauges(self) -> dict[str, float]:
        return self._db.gauges()

    def unavailable_reason(self) -> str | None:
        return self._db.unavailable_reason()

    def notices(self) -> list[str]:
        return []

    async def backup(self, dest: str) -> BackupResult:
        raise StateConflict(NO_BACKUP_POSTGRES)

    def _wake(self, queue: str) -> None:
        if self._wakeup is not None:
            self._wakeup(queue)

    # -- writes ---------------------------------------------------------------

    async def insert(
        self, queue: str, jobs: Sequence[NewJob], *, now_ms: int, dedup_window_ms: int
    ) -> list[InsertResult]:
        cutoff_ms = now_ms - dedup_window_ms
        keyed = any(job.idempotency_key is not None for job in jobs)
        results = await self._db.run(
            lambda conn: insert.insert_jobs(conn, queue, jobs, now_ms=now_ms, cutoff_ms=cutoff_ms),
            transaction=keyed,
        )
        self._notifier.queue_changed(queue)
        if keyed and now_ms - self._keys_purged_at_ms >= _KEY_PURGE_INTERVAL_MS:
            more = await self._db.run(
                lambda conn: insert.purge_expired_keys(conn, cutoff_ms=cutoff_ms, batch=_KEY_PURGE_BATCH),
                transaction=False,
            )
            # A full batch means a backlog: the next keyed insert purges again.
            self._keys_purged_at_ms = 0 if more else now_ms
        return results

    async def lease(
        self,
        queue: str,
        *,
        max_jobs: int,
        visibility_ms: int,
        now_ms: int,
        new_lease_id: Callable[[], str],
    ) -> LeaseResult:
        """One statement for an open queue; a rate- or concurrency-limited one (seen when
        that statement found nothing) leases in a transaction holding its queue row."""
        request = lease.LeaseRequest(queue, max_jobs, visibility_ms, now_ms, new_lease_id)
        jobs = await self._db.run(lambda conn: lease.lease_open(conn, request), transaction=False)
        if jobs:
            return LeaseResult(jobs=jobs, rate_limited=False)
        result = LeaseResult(jobs=[], rate_limited=False)
        if await self._db.run(lambda conn: lease.limited(conn, queue), transaction=False):
            result = await self._db.run(lambda conn: lease.lease_limited(conn, request))
        if not result.jobs:
            self._notifier.waiting_on(queue)
        return result

    async def ack(self, job_id: str, lease_id: str, *, now_ms: int) -> str:
        (result,) = await self.ack_batch([(job_id, lease_id)], now_ms=now_ms)
        if result.queue is None:
            raise result.failure()
        return result.queue

    async def ack_batch(self, acks: Sequence[tuple[str, str]], *, now_ms: int) -> list[AckResult]:
        if not acks:
            return []
        return await self._db.run(lambda conn: transitions.ack_jobs(conn, acks, now_ms=now_ms), transaction=False)

    async def extend(self, job_id: str, lease_id: str, *, expires_at_ms: int, now_ms: int) -> Job:
        return await self._db.run(
            lambda conn: transitions.extend_lease(conn, job_id, lease_id, expires_at_ms=expires_at_ms, now_ms=now_ms),
            transaction=False,
        )

    async def retry(
        self, job_id: str, lease_id: str, *, eta_ms: int, error: str | None, now_ms: int, expired: bool = False
    ) -> Job:
        job = await self._end_attempt(job_id, lease_id, StoredState.WAITING, eta_ms, error, now_ms, expired)
        self._notifier.queue_changed(job.queue)
        return job

    async def bury(self, job_id: str, lease_id: str, *, error: str | None, now_ms: int, expired: bool = False) -> Job:
        return await self._end_attempt(job_id, lease_id, StoredState.DEAD, None, error, now_ms, expired)

    async def _end_attempt(
        self,
        job_id: str,
        lease_id: str,
        to: StoredState,
        eta_ms: int | None,
        error: str | None,
        now_ms: int,
        expired: bool,
    ) -> Job:
        async def work(conn: Connection) -> Job:
            return await transitions.end_attempt(
                conn,
                job_id,
                lease_id,
                to=to,
                eta_ms=eta_ms,
                error=error,
                now_ms=now_ms,
                expired=expired,
            )

        return await self._db.run(work, transaction=False)

    async def requeue(self, queue: str, job_ids: Sequence[str] | None, *, now_ms: int) -> int:
        moved = await self._db.run(
            lambda conn: transitions.requeue_dead(conn, queue, job_ids, now_ms=now_ms), transaction=False
        )
        if moved:
            self._notifier.queue_changed(queue)
        return moved

    async def delete(self, job_id: str, *, now_ms: int) -> Job:
        return await self._db.run(lambda conn: transitions.delete_job(conn, job_id), transaction=False)

    async def purge(self, queue: str, *, now_ms: int) -> int:
        return await self._db.run(lambda conn: transitions.purge_jobs(conn, queue, dead_only=False), transaction=False)

    async def purge_dlq(self, queue: str, *, now_ms: int) -> int:
        return await self._db.run(lambda conn: transitions.purge_jobs(conn, queue, dead_only=True), transaction=False)

    async def delete_queue(self, queue: str, *, force: bool, now_ms: int) -> int:
        return await self._db.run(lambda conn: deletion.delete_queue(conn, queue, force=force))

    async def put_schedule(self, schedule: Schedule) -> None:
        await self._db.run(lambda conn: schedules.put_schedule(conn, schedule), transaction=False)

    async def get_schedule(self, name: str) -> Schedule | None:
        found = await self._db.run(lambda conn: schedules.get_schedules(conn, name), transaction=False)
        return found[0] if found else None

    async def list_schedules(self) -> list[Schedule]:
        return await self._db.run(lambda conn: schedules.get_schedules(conn, None), transaction=False)

    async def delete_schedule(self, name: str) -> bool:
        return await self._db.run(lambda conn: schedules.delete_schedule(conn, name), transaction=False)

    async def advance_schedule(
        self, name: str, *, due_ms: int, next_run_at_ms: int, last_run_at_ms: int, fired: int
    ) -> bool:
        return await self._db.run(
            lambda conn: schedules.advance_schedule(
                conn, name, due_ms=due_ms, next_run_at_ms=next_run_at_ms, last_run_at_ms=last_run_at_ms, fired=fired
            ),
            transaction=False,
        )

    async def update_queue_config(
        self, queue: str, change: Callable[[QueueConfig], QueueConfig], *, now_ms: int
    ) -> None:
        await self._db.run(lambda conn: queues.update_config(conn, queue, change, now_ms=now_ms))
        self._notifier.queue_changed(queue)

    # -- reads ----------------------------------------------------------------

    async def get(self, job_id: str) -> Job:
        return await self._db.run(lambda conn: reads.get_job(conn, job_id), transaction=False)

    async def get_queue_config(self, queue: str) -> QueueConfig:
        return await self._db.run(lambda conn: queues.queue_config(conn, queue), transaction=False)

    async def stats(self, queue: str, *, now_ms: int) -> QueueStats | None:
        found = await self._db.run(lambda conn: queues.queue_stats(conn, queue, now_ms=now_ms), transaction=False)
        return found[0] if found else None

    async def list_queues(self, *, now_ms: int) -> list[QueueStats]:
        return await self._db.run(lambda conn: queues.queue_stats(conn, None, now_ms=now_ms), transaction=False)

    async def list_jobs(
        self, queue: str, *, state: JobState | None, limit: int, cursor: str | None, now_ms: int
    ) -> JobPage:
        return await self._db.run(
            lambda conn: reads.list_jobs(conn, queue, state=state, limit=limit, cursor=cursor, now_ms=now_ms),
            transaction=False,
        )

    async def expired_leases(self, *, now_ms: int, limit: int) -> list[Job]:
        return await self._db.run(
            lambda conn: reads.expired_leases(conn, now_ms=now_ms, limit=limit), transaction=False
        )

    async def next_eta_ms(self, queue: str, *, now_ms: int) -> int | None:
        return await self._db.run(lambda conn: reads.next_eta_ms(conn, queue, now_ms=now_ms), transaction=False)
