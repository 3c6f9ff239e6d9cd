"""The connection pool and the one place where driver errors become RivetQ errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from rivetq.errors import StorageUnavailable

__all__ = ["Connection", "Database"]

T = TypeVar("T")
Connection = psycopg.AsyncConnection[TupleRow]

# Deadlock and serialization failures roll the whole transaction back, so running it
# again is safe; anything else that breaks the connection is reported as unavailable.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
_ATTEMPTS = 3
# psycopg_pool doubles the delay between reconnect attempts, without a cap, until it gives
# up after reconnect_timeout; the next request then starts a fresh attempt at once. Giving
# up early keeps the delays at 1-2 s, so a node is back within ~2 s of the database rather
# than after as long again as the outage lasted.
_RECONNECT_GIVE_UP_S = 5.0
# While the database is known to be away, a request waits this long for a connection (not
# the full pool timeout) before its 503.
_OUTAGE_WAIT_S = 1.0


class Database:
    """A pool of autocommit connections; ``run`` executes one unit of work on one of them."""

    def __init__(self, dsn: str, *, min_size: int, max_size: int, timeout_s: float) -> None:
        self._pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout_s,
            reconnect_timeout=_RECONNECT_GIVE_UP_S,
            open=False,
            kwargs={"autocommit": True},
            name="rivetq",
        )
        self._timeout_s = timeout_s
        self._unavailable: str | None = None
        self._checking: asyncio.Task[None] | None = None

    async def open(self) -> None:
        try:
            await self._pool.open(wait=True, timeout=self._timeout_s)
        except psycopg.OperationalError as error:
            await self._pool.close()
            raise StorageUnavailable(f"cannot connect to PostgreSQL: {error}") from error

    async def close(self) -> None:
        if self._checking is not None:
            self._checking.cancel()
        await self._pool.close()

    def unavailable_reason(self) -> str | None:
        return self._unavailable

    def gauges(self) -> dict[str, float]:
        stats = self._pool.get_stats()
        return {
            "pg_pool_size": float(stats.get("pool_size", 0)),
            "pg_pool_available": float(stats.get("pool_available", 0)),
            "pg_pool_waiting": float(stats.get("requests_waiting", 0)),
        }

    async def run(self, work: Callable[[Connection], Awaitable[T]], *, transaction: bool = True) -> T:
        """Run ``work`` on a pooled connection (inside one transaction unless told otherwise).
        A lost database raises ``StorageUnavailable``; the pool replaces broken connections."""
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                result = await self._attempt(work, transaction)
            except psycopg.OperationalError as error:
                if error.sqlstate in _RETRYABLE_SQLSTATES and attempt < _ATTEMPTS:
                    continue
                self._mark_unavailable(error)
                raise StorageUnavailable(f"PostgreSQL unavailable: {error}") from error
            except psycopg.InterfaceError as error:
                self._mark_unavailable(error)
                raise StorageUnavailable(f"PostgreSQL unavailable: {error}") from error
            self._unavailable = None
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(self, work: Callable[[Connection], Awaitable[T]], transaction: bool) -> T:
        wait_s = min(_OUTAGE_WAIT_S, self._timeout_s) if self._unavailable else self._timeout_s
        async with self._pool.connection(timeout=wait_s) as conn:
            if not transaction:
                return await work(conn)
            # Pipeline mode sends BEGIN with the first statement and COMMIT with the
            # last writes: a transaction costs as many round trips as it has reads.
            async with conn.pipeline(), conn.transaction():
                return await work(conn)

    def _mark_unavailable(self, error: Exception) -> None:
        self._unavailable = f"PostgreSQL unavailable: {error}"
        if self._checking is None or self._checking.done():
            # Idle connections opened before an outage are all broken: test them now
            # rather than failing one request per stale connection.
            self._checking = asyncio.create_task(self._check_pool(), name="rivetq-pg-pool-check")

    async def _check_pool(self) -> None:
        try:
            await self._pool.check()
        except psycopg.Error:
            return
