"""Meters for bench/pg_cost.py: what a stretch of work cost one PostgreSQL server.

- round trips: a TCP proxy between the clients and PostgreSQL counts, per connection,
  every reply that follows a request (a pipelined batch is one round trip);
- statements, their execution time and the shared buffers they read (a page read is a
  page read however busy the machine, where times move with the other load):
  ``pg_stat_statements`` of the measured database;
- commits and WAL bytes: ``pg_waldump --stats=record`` over the WAL written meanwhile
  (a commit record is a durable commit, the one a client waits on with
  ``synchronous_commit=on``; read-only transactions write none);
- CPU: the run time of every process of the server, from ``/proc/<pid>/schedstat``
  (ns, so short stretches are measured precisely)."""

from __future__ import annotations

import asyncio
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg

__all__ = ["Cost", "CostMeter", "RoundTripProxy"]


class RoundTripProxy:
    """Forwards 127.0.0.1:``port`` to PostgreSQL and counts round trips."""

    def __init__(self, upstream_port: int) -> None:
        self._upstream_port = upstream_port
        self.round_trips = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()

    async def _serve(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        server_in, server_out = await asyncio.open_connection("127.0.0.1", self._upstream_port)
        self._writers += [client_out, server_out]
        awaiting_reply = [False]
        try:
            await asyncio.gather(
                self._pump(client_in, server_out, awaiting_reply, request=True),
                self._pump(server_in, client_out, awaiting_reply, request=False),
                return_exceptions=True,
            )
        except asyncio.CancelledError:
            # asyncio.run cancels the connections still open at exit; Python 3.11's
            # start_server would print a cancelled handler as an unhandled exception.
            return

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, awaiting_reply: list[bool], *, request: bool
    ) -> None:
        try:
            while chunk := await source.read(65536):
                if request:
                    awaiting_reply[0] = True
                elif awaiting_reply[0]:
                    awaiting_reply[0] = False
                    self.round_trips += 1
                sink.write(chunk)
                await sink.drain()
        finally:
            sink.close()


@dataclass(frozen=True)
class Cost:
    round_trips: int
    statements: int
    exec_ms: float
    buffers: int
    commits: int
    wal_bytes: int
    cpu_ms: float


@dataclass(frozen=True)
class _Mark:
    round_trips: int
    statements: int
    exec_ms: float
    buffers: int
    lsn: str
    cpu_ns: int


_COMMIT = re.compile(r"^Transaction/COMMIT\s+(\d+)", re.MULTILINE)
_TOTAL = re.compile(r"^Total\s.*\s(\d+) \[100%\]$", re.MULTILINE)  # the combined size


class CostMeter:
    """Marks taken through a direct connection to the ``postgres`` database, so the
    meter's own statements are not counted (they run in another database)."""

    def __init__(self, admin_dsn: str, database: str, data_dir: Path, pg_bin: Path, proxy: RoundTripProxy) -> None:
        self._admin_dsn = admin_dsn
        self._database = database
        self._data_dir = data_dir
        self._pg_bin = pg_bin
        self._proxy = proxy

    async def analyze(self) -> None:
        """What autovacuum's analyze would have done by now (autovacuum is off, so that its
        work does not land in one operation's figures): plans follow the tables' contents."""
        database_dsn = self._admin_dsn.rsplit("/", 1)[0] + "/" + self._database
        async with await psycopg.AsyncConnection.connect(database_dsn, autocommit=True) as conn:
            await conn.execute("ANALYZE")

    async def mark(self) -> _Mark:
        async with await psycopg.AsyncConnection.connect(self._admin_dsn, autocommit=True) as conn:
            row = await (
                await conn.execute(
                    "SELECT coalesce(sum(s.calls), 0)::bigint, coalesce(sum(s.total_exec_time), 0),"
                    " coalesce(sum(s.shared_blks_hit + s.shared_blks_read), 0)::bigint,"
                    " pg_current_wal_insert_lsn()::text"
                    " FROM pg_stat_statements AS s JOIN pg_database AS d ON d.oid = s.dbid WHERE d.datname = %s",
                    (self._database,),
                )
            ).fetchone()
        assert row is not None
        return _Mark(self._proxy.round_trips, int(row[0]), float(row[1]), int(row[2]), str(row[3]), self._cpu_ns())

    async def cost(self, start: _Mark, end: _Mark) -> Cost:
        await self._flushed(end.lsn)
        commits, wal_bytes = self._waldump(start.lsn, end.lsn)
        return Cost(
            round_trips=end.round_trips - start.round_trips,
            statements=end.statements - start.statements,
            exec_ms=end.exec_ms - start.exec_ms,
            buffers=end.buffers - start.buffers,
            commits=commits,
            wal_bytes=wal_bytes,
            cpu_ms=(end.cpu_ns - start.cpu_ns) / 1e6,
        )

    async def _flushed(self, lsn: str) -> None:
        """Wait until the WAL up to ``lsn`` is on disk, where pg_waldump reads it."""
        async with await psycopg.AsyncConnection.connect(self._admin_dsn, autocommit=True) as conn:
            while True:
                row = await (await conn.execute("SELECT pg_current_wal_flush_lsn() >= %s::pg_lsn", (lsn,))).fetchone()
                if row is not None and row[0]:
                    return
                await asyncio.sleep(0.05)

    def _waldump(self, start_lsn: str, end_lsn: str) -> tuple[int, int]:
        if start_lsn == end_lsn:
            return 0, 0
        done = subprocess.run(
            [
                str(self._pg_bin / "pg_waldump"),
                "--stats=record",
                "-p",
                str(self._data_dir / "pg_wal"),
                "-s",
                start_lsn,
                "-e",
                end_lsn,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"pg_waldump failed: {done.stderr}")
        commits = sum(int(n) for n in _COMMIT.findall(done.stdout))
        total = _TOTAL.search(done.stdout)
        assert total is not None, done.stdout
        return commits, int(total[1])  # records + full-page images

    def _cpu_ns(self) -> int:
        postmaster = int((self._data_dir / "postmaster.pid").read_text().split()[0])
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == postmaster or int(stat.parent.name) == postmaster:
                    total += int((stat.parent / "schedstat").read_text().split()[0])
            except (OSError, IndexError, ValueError):
                continue  # a process that ended meanwhile
        return total
