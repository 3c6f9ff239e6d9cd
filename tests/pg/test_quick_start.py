"""The quick start of the PostgreSQL scale-out page (docs/postgresql.md), run as written
against a real PostgreSQL 15, and what ``rivetqd migrate`` and ``rivetqd`` say when the
database refuses: one line naming the role, database and server and the fix, exit status
2, no traceback, no password."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.e2e.server import free_port, spawn_server
from tests.pg.cluster import PG_BIN, PgCluster

SCALE_OUT_PAGE = Path(__file__).resolve().parents[2] / "docs" / "postgresql.md"
VENV_BIN = Path(sys.executable).parent
PASSWORD_ROLE = "rivetq_pw"  # the one role the cluster asks for a password (scram-sha-256)
SECRET = "right-secret-9f3"


def _quick_start_block() -> str:
    match = re.search(r"```sh\n(.*?)```", SCALE_OUT_PAGE.read_text(), re.DOTALL)
    assert match, "no sh block on the scale-out page"
    return match.group(1)


def _superuser(cluster: PgCluster, sql: str) -> None:
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute(sql.encode())


def _env(cluster: PgCluster, **extra: str) -> dict[str, str]:
    """What a user's shell has: the PostgreSQL tools and rivetqd on PATH, libpq pointed at the cluster."""
    path = f"{VENV_BIN}:{PG_BIN}:/usr/bin:/bin"
    return {"PATH": path, "PGHOST": "127.0.0.1", "PGPORT": str(cluster.port), "PGUSER": "postgres", **extra}


@pytest.fixture
def quick_start_names(pg_cluster: PgCluster) -> Iterator[None]:
    """The quick start's role and database, dropped afterwards."""
    yield
    _superuser(pg_cluster, "DROP DATABASE IF EXISTS rivetq WITH (FORCE)")
    _superuser(pg_cluster, "DROP ROLE IF EXISTS rivetq")


def test_the_quick_start_works_on_postgresql_15(pg_cluster: PgCluster, quick_start_names: None, tmp_path: Path) -> None:
    ports = {old: str(free_port()) for old in ("8080", "8081", "9090", "9091")}
    script = _quick_start_block().replace("127.0.0.1:5432", f"127.0.0.1:{pg_cluster.port}")
    for old, new in ports.items():
        script = script.replace(f"127.0.0.1:{old}", f"127.0.0.1:{new}")
    one, two = (f"http://127.0.0.1:{ports[p]}" for p in ("8080", "8081"))
    script = f"""set -e
{script}
for url in {one} {two}; do
  for _ in $(seq 200); do curl -fsS -o /dev/null "$url/readyz" 2>/dev/null && break; sleep 0.1; done
done
curl -fsS {one}/v1/queues/qs/enqueue -H 'Content-Type: application/json' -d '{{"payload": 1}}'
echo
curl -fsS {two}/v1/queues/qs/lease -H 'Content-Type: application/json' -d '{{}}'
kill $(jobs -p)
wait
"""
    shell = subprocess.Popen(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=_env(pg_cluster),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = shell.communicate(timeout=60)
    finally:
        if shell.poll() is None:
            os.killpg(shell.pid, signal.SIGKILL)
            shell.wait()
    assert shell.returncode == 0, err
    assert "rivetqd migrate: schema at version" in err
    enqueued, leased = out.splitlines()[-2:]
    job_id = re.fullmatch(r'\{"job_id":"([^"]+)"\}', enqueued)
    assert job_id and f'"id":"{job_id[1]}"' in leased, out  # enqueued on one node, leased on the other


@pytest.fixture(scope="module")
def password_role(pg_cluster: PgCluster) -> Iterator[str]:
    """A role that must give its password: the cluster trusts every other one."""
    hba = pg_cluster.data / "pg_hba.conf"
    hba.write_text(f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
    _superuser(pg_cluster, "SELECT pg_reload_conf()")
    _superuser(pg_cluster, f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{SECRET}'")
    yield PASSWORD_ROLE
    _superuser(pg_cluster, f"DROP ROLE {PASSWORD_ROLE}")


@pytest.fixture
def not_owned(pg_cluster: PgCluster) -> Iterator[str]:
    """The old quick start's setup: ``createdb rivetq`` as the superuser, so another role owns nothing."""
    _superuser(pg_cluster, "CREATE ROLE not_owner LOGIN")
    _superuser(pg_cluster, "CREATE DATABASE not_owned")
    yield f"postgresql://not_owner:{SECRET}@127.0.0.1:{pg_cluster.port}/not_owned"
    _superuser(pg_cluster, "DROP DATABASE not_owned WITH (FORCE)")
    _superuser(pg_cluster, "DROP ROLE not_owner")


def _migrate(dsn: str, tmp_path: Path) -> tuple[int, str]:
    env = {"PATH": "/usr/bin:/bin", "RIVETQ_STORAGE_DSN": dsn}
    done = subprocess.run(
        [str(VENV_BIN / "rivetqd"), "migrate"], env=env, cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.stdout == ""
    return done.returncode, done.stderr


def _assert_one_line_without_secrets(output: str, prefix: str, *expected: str) -> None:
    [line] = output.splitlines()
    assert line.startswith(prefix), line
    assert all(part in line for part in expected), line
    assert SECRET not in line and "wrong-secret" not in line and "Traceback" not in line


def test_migrate_on_a_database_the_role_does_not_own_says_to_make_it_the_owner(
    pg_cluster: PgCluster, not_owned: str, tmp_path: Path
) -> None:
    status, stderr = _migrate(not_owned, tmp_path)
    assert status == 2
    where = f"rivetqd migrate: PostgreSQL (role not_owner, database not_owned at 127.0.0.1:{pg_cluster.port}): "
    fix = "ALTER DATABASE not_owned OWNER TO not_owner"
    _assert_one_line_without_secrets(stderr, where, "permission denied for schema public", fix)
    _superuser(pg_cluster, fix)  # doing what it says is enough
    assert _migrate(not_owned, tmp_path)[0] == 0


@pytest.mark.parametrize(
    ("user", "database", "reason", "fix"),
    [
        (PASSWORD_ROLE, "postgres", f'password authentication failed for user "{PASSWORD_ROLE}"', "check the user and"),
        ("ghost", "postgres", 'role "ghost" does not exist', "createuser --pwprompt ghost"),
        ("postgres", "missing_db", 'database "missing_db" does not exist', "createdb -O postgres missing_db"),
    ],
    ids=["wrong-password", "no-role", "no-database"],
)
def test_migrate_names_a_refused_login_and_its_fix(
    pg_cluster: PgCluster, password_role: str, tmp_path: Path, user: str, database: str, reason: str, fix: str
) -> None:
    dsn = f"postgresql://{user}:wrong-secret@127.0.0.1:{pg_cluster.port}/{database}"
    status, stderr = _migrate(dsn, tmp_path)
    assert status == 2
    where = f"rivetqd migrate: PostgreSQL (role {user}, database {database} at 127.0.0.1:{pg_cluster.port}): "
    _assert_one_line_without_secrets(stderr, where, reason, fix)


def test_migrate_against_no_server_says_to_start_it(tmp_path: Path) -> None:
    port = free_port()
    status, stderr = _migrate(f"postgresql://rivetq:wrong-secret@127.0.0.1:{port}/rivetq", tmp_path)
    assert status == 2
    where = f"rivetqd migrate: PostgreSQL (role rivetq, database rivetq at 127.0.0.1:{port}): "
    _assert_one_line_without_secrets(stderr, where, "Connection refused", "start PostgreSQL")


@pytest.mark.parametrize("auto_migrate", ["true", "false"])
def test_rivetqd_refused_by_the_database_stops_with_one_line_and_status_2(
    pg_cluster: PgCluster, password_role: str, tmp_path: Path, auto_migrate: str
) -> None:
    dsn = f"postgresql://{password_role}:wrong-secret@127.0.0.1:{pg_cluster.port}/postgres"
    env = {"RIVETQ_STORAGE_DSN": dsn, "RIVETQ_STORAGE_AUTO_MIGRATE": auto_migrate}
    process, log_path, _, _ = spawn_server(tmp_path, "--storage-backend", "postgres", env=env, grpc=False)
    assert process.wait(timeout=60) == 2
    log = log_path.read_text()
    [failed] = [line for line in log.splitlines() if "rivetqd_startup_failed" in line]
    assert "password authentication failed" in failed and "check the user and password in storage.dsn" in failed
    assert "Traceback" not in log and "wrong-secret" not in log
