"""Versioned schema migrations: ``migrations/NNNN_name.sql`` applied in order, each in
its own transaction, recorded in ``rivetq_schema_migrations``. An advisory lock makes
nodes that start together take turns, so each migration runs once."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from rivetq.errors import StorageSetupFailed
from rivetq.storage.postgres.database import Connection
from rivetq.storage.postgres.diagnose import setup_connection

__all__ = [
    "LATEST_VERSION",
    "Migration",
    "apply_migrations",
    "migrate_command",
    "migrations",
    "newer_schema",
    "schema_version",
]

_LOCK_KEY = 0x5249_5645_5451  # "RIVETQ": any constant shared by every node
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS rivetq_schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """The migrations shipped with this package, in version order."""
    found: list[Migration] = []
    for entry in resources.files("rivetq.storage.postgres").joinpath("migrations").iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


LATEST_VERSION = migrations()[-1].version


async def apply_migrations(dsn: str, *, up_to: int | None = None) -> list[int]:
    """Bring the database at ``dsn`` to ``LATEST_VERSION`` (or to ``up_to``); returns the
    versions applied by this call (empty when another node did them first). A database
    that refuses is ``StorageSetupFailed`` saying what to fix."""
    async with setup_connection(dsn) as conn:
        await conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            return await _apply_pending(conn, LATEST_VERSION if up_to is None else up_to)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


async def schema_version(conn: Connection) -> int:
    """The highest applied version, 0 for a database never migrated."""
    row = await (await conn.execute("SELECT to_regclass('rivetq_schema_migrations') IS NOT NULL")).fetchone()
    if row is None or not row[0]:
        return 0
    row = await (await conn.execute("SELECT coalesce(max(version), 0) FROM rivetq_schema_migrations")).fetchone()
    return int(row[0]) if row else 0


def newer_schema(version: int) -> StorageSetupFailed:
    """A database a newer rivetqd migrated: this one must not use it, nor call it migrated."""
    return StorageSetupFailed(
        f"the PostgreSQL schema is at version {version}, newer than this rivetqd knows ({LATEST_VERSION}): a "
        "newer rivetqd migrated the database; run that version or newer (downgrades are not supported)"
    )


async def _apply_pending(conn: Connection, up_to: int) -> list[int]:
    await conn.execute(_CREATE_TABLE)
    current = await schema_version(conn)
    if current > LATEST_VERSION:
        raise newer_schema(current)
    applied: list[int] = []
    for migration in migrations():
        if migration.version <= current or migration.version > up_to:
            continue
        async with conn.transaction():
            await conn.execute(migration.sql.encode())
            await conn.execute(
                "INSERT INTO rivetq_schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
        applied.append(migration.version)
    return applied


def migrate_command(dsn: str, echo: Callable[[str], None]) -> int:
    """``rivetqd migrate``: apply pending migrations, say what was done; the exit status."""
    if not dsn:
        echo("rivetqd migrate: storage.dsn is empty (set it in config.yaml or RIVETQ_STORAGE_DSN)")
        return 2
    try:
        applied = asyncio.run(apply_migrations(dsn))
    except StorageSetupFailed as error:
        echo(f"rivetqd migrate: {error}")
        return 2
    done = ", ".join(str(v) for v in applied) if applied else "nothing to do"
    echo(f"rivetqd migrate: schema at version {LATEST_VERSION} ({done})")
    return 0
