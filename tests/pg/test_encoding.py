"""A database that is not UTF8 is refused at startup with the fix, before any text can
be garbled (SQL_ASCII stores bytes unchecked and returns them as bytes)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from rivetq.errors import StorageSetupFailed
from rivetq.storage.postgres import PostgresStorage
from tests.pg.cluster import PgCluster


@pytest.fixture
def ascii_database(pg_cluster: PgCluster) -> Iterator[str]:
    name = "ascii_db"
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute(
            f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'".encode()
        )
    dsn = pg_cluster.dsn(name)
    yield dsn
    pg_cluster.drop_database(dsn)


async def test_open_refuses_a_database_not_in_utf8(ascii_database: str) -> None:
    storage = PostgresStorage(ascii_database, auto_migrate=True)
    with pytest.raises(StorageSetupFailed, match="encoding is SQL_ASCII, RivetQ needs UTF8; to fix: create"):
        await storage.open()
    with psycopg.connect(ascii_database) as conn:
        assert conn.execute("SELECT to_regclass('rivetq_jobs')").fetchone() == (None,)


def test_rivetqd_says_how_to_make_the_database(ascii_database: str, tmp_path: Path) -> None:
    rivetqd = str(Path(sys.executable).parent / "rivetqd")
    env = {"RIVETQ_STORAGE_DSN": ascii_database, "PATH": "/usr/bin:/bin"}
    done = subprocess.run([rivetqd, "migrate"], env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "createdb -E UTF8 -T template0 -O postgres ascii_db" in done.stderr
    assert "Traceback" not in done.stderr
