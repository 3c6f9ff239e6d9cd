"""A PostgreSQL error met while connecting or migrating, as the one line an operator
needs: what went wrong, with which role, database and server (never the password), and
the command or setting that fixes it."""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
import psycopg.conninfo
from psycopg.rows import TupleRow

from rivetq.errors import StorageSetupFailed

__all__ = ["setup_connection", "setup_error"]

_OWNER_FIX = (
    "make the role the database's owner: ALTER DATABASE {dbname} OWNER TO {user} (or create the database with"
    " createdb -O {user} {dbname}); since PostgreSQL 15 only the owner may create tables in schema public"
)
# The first pattern found in the server's (or libpq's) reason picks the fix.
_FIXES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"password authentication failed|no password supplied"), "check the user and password in storage.dsn"),
    (re.compile(r'role ".*" does not exist'), "create the role: createuser --pwprompt {user}"),
    (re.compile(r'database ".*" does not exist'), "create it, owned by the role: createdb -O {user} {dbname}"),
    (re.compile(r"no pg_hba\.conf entry"), "allow this client and role in the server's pg_hba.conf, then reload it"),
    (re.compile(r"permission denied|must be owner"), _OWNER_FIX),
    (re.compile(r"resolve host|translate host name"), "correct the host in storage.dsn"),
    (
        re.compile(r"Connection refused|No such file|timeout expired|timed out"),
        "start PostgreSQL, or correct the host and port in storage.dsn",
    ),
)
_GENERAL_FIX = "check storage.dsn and the PostgreSQL server's log"


@asynccontextmanager
async def setup_connection(dsn: str) -> AsyncIterator[psycopg.AsyncConnection[TupleRow]]:
    """One autocommit connection for startup work; any driver error, from connecting or
    from the block, becomes ``StorageSetupFailed`` (see ``setup_error``)."""
    try:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            _check_encoding(conn, dsn)
            yield conn
    except psycopg.Error as error:
        raise setup_error(error, dsn) from error


def setup_error(error: psycopg.Error, dsn: str) -> StorageSetupFailed:
    """``PostgreSQL (role rivetq, database rivetq at 127.0.0.1:5432): permission denied for
    schema public; to fix: make the role the database's owner ...``"""
    reason = _reason(error)
    return _refusal(dsn, reason, next((fix for pattern, fix in _FIXES if pattern.search(reason)), _GENERAL_FIX))


def _check_encoding(conn: psycopg.AsyncConnection[TupleRow], dsn: str) -> None:
    """Text (errors, headers, schedule names) goes in as UTF-8: a ``SQL_ASCII`` database
    stores its bytes unchecked and gives them back as bytes, a ``LATIN1`` one refuses most
    of them; neither is usable, and both would only show once such a text arrives."""
    encoding = conn.info.parameter_status("server_encoding")
    if encoding != "UTF8":
        reason = f"the database's encoding is {encoding}, RivetQ needs UTF8"
        raise _refusal(dsn, reason, "create the database in UTF8: createdb -E UTF8 -T template0 -O {user} {dbname}")


def _refusal(dsn: str, reason: str, fix: str) -> StorageSetupFailed:
    params = _connection_params(dsn)
    where = f"role {params['user']}, database {params['dbname']} at {params['host']}:{params['port']}"
    return StorageSetupFailed(f"PostgreSQL ({where}): {reason}; to fix: {fix.format(**params)}")


def _reason(error: psycopg.Error) -> str:
    """The first line of the error, after libpq's ``connection failed:`` and ``FATAL:``."""
    if error.diag.message_primary:
        return error.diag.message_primary
    line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    line = line.removeprefix("connection failed: ")
    return line.partition("FATAL:")[2].strip() or line


def _connection_params(dsn: str) -> dict[str, str]:
    """What libpq connects with: the DSN, then its ``PG*`` variables and defaults."""
    given = psycopg.conninfo.conninfo_to_dict(dsn)
    user = str(given.get("user") or os.environ.get("PGUSER") or getpass.getuser())
    return {
        "user": user,
        "dbname": str(given.get("dbname") or os.environ.get("PGDATABASE") or user),
        "host": str(given.get("host") or os.environ.get("PGHOST") or "localhost"),
        "port": str(given.get("port") or os.environ.get("PGPORT") or "5432"),
    }
