"""A real PostgreSQL 15 for the tests: ``initdb`` + ``pg_ctl`` on a free port in a temp
dir (fsync on), started once per session on first use and stopped at the session's end.

A pytest plugin (registered in ``tests/conftest.py``) so that ``tests/storage`` (whose
factories get only ``tmp_path``) and ``tests/pg`` share one server. Each test gets a
fresh database cloned from a migrated template, which takes milliseconds."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from rivetq.storage.postgres import apply_migrations

__all__ = ["PgCluster", "fresh_database", "pg_cluster", "shared_cluster"]

PG_BIN = Path(os.environ.get("RIVETQ_PG_BIN", "/usr/lib/postgresql/15/bin"))
TEMPLATE = "rivetq_template"
SCRATCH = "rivetq_scratch"
TABLES = ["rivetq_jobs", "rivetq_queues", "rivetq_counters", "rivetq_idempotency", "rivetq_schedules"]

# Stops the server if the test process dies without finishing its session (SIGKILL,
# a timeout), so no PostgreSQL outlives its tests.
_WATCHDOG = """
import os, shutil, subprocess, sys, time
parent, command, root = int(sys.argv[1]), sys.argv[2:-1], sys.argv[-1]
while True:
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        break
    time.sleep(1)
subprocess.run(command, capture_output=True)
shutil.rmtree(root, ignore_errors=True)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_postgres(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the ``postgres`` user then."""
    if os.geteuid() != 0:
        return args
    if subprocess.run(["id", "-u", "postgres"], capture_output=True, check=False).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
    return ["runuser", "-u", "postgres", "--", *args]


class PgCluster:
    """One PostgreSQL server owned by the test session."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="rivetq-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._names = itertools.count(1)
        self._scratch_made = False
        self._watchdog: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self._run(
            [str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]
        )

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
            " -c fsync=on -c max_connections=300 -c shared_buffers=64MB"
        )
        self._run(
            [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-o", options, "-w", "start"]
        )

    def scratch_dsn(self) -> str:
        """A migrated database emptied now: cheaper than a new database (tens of ms, not
        hundreds) for tests that close every connection when they end."""
        if not self._scratch_made:
            self.create_database(name=SCRATCH)
            self._scratch_made = True
        with psycopg.connect(self.dsn(SCRATCH), autocommit=True) as conn:
            conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY".encode())
        return self.dsn(SCRATCH)

    def stop(self, mode: str = "fast") -> None:
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
        if self._watchdog is not None:
            self._watchdog.kill()
            self._watchdog.wait()

    def _watch(self) -> None:
        stop = _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(os.getpid()), *stop, str(self.root)], start_new_session=True
        )

    def create_database(self, *, template: str = TEMPLATE, name: str | None = None) -> str:
        """A new database cloned from ``template`` (``template0`` gives an empty one); its DSN."""
        name = name or f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'.encode())
        return self.dsn(name)

    def drop_database(self, dsn: str) -> None:
        name = dsn.rsplit("/", 1)[1]
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())

    def _run(self, args: list[str]) -> None:
        done = subprocess.run(_as_postgres(args), capture_output=True, text=True, check=False, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")

    def _make_template(self) -> None:
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{TEMPLATE}"'.encode())
        # Callers may be inside a running event loop (async fixtures): migrate from a thread.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, apply_migrations(self.dsn(TEMPLATE))).result()

    @classmethod
    def launch(cls) -> PgCluster:
        cluster = cls()
        cluster.start()
        cluster._watch()
        cluster._make_template()
        return cluster


_shared: PgCluster | None = None


def shared_cluster() -> PgCluster:
    """The session's server, started on first use."""
    global _shared
    if _shared is None:
        _shared = PgCluster.launch()
    return _shared


def pytest_sessionfinish(session: pytest.Session) -> None:
    global _shared
    if _shared is not None:
        _shared.destroy()
        _shared = None


@pytest.fixture(scope="session")
def pg_cluster() -> PgCluster:
    return shared_cluster()


@pytest.fixture
def fresh_database(pg_cluster: PgCluster) -> Iterator[str]:
    """The DSN of a new, migrated, empty database, dropped after the test."""
    dsn = pg_cluster.create_database()
    yield dsn
    pg_cluster.drop_database(dsn)
