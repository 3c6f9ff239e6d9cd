"""Schedules on PostgreSQL: one row each; progress moves by compare-and-set, so two nodes
firing the same tick record it once (the job itself is deduplicated by its idempotency key)."""

from __future__ import annotations

import msgspec

from rivetq.models import Schedule
from rivetq.storage.postgres.database import Connection

__all__ = ["advance_schedule", "delete_schedule", "get_schedules", "put_schedule"]

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Schedule)

_PUT = """
INSERT INTO rivetq_schedules (name, definition, next_run_at_ms, last_run_at_ms, runs_total)
VALUES (%(name)s, %(definition)s, %(next)s, %(last)s, %(runs)s)
ON CONFLICT (name) DO UPDATE SET definition = EXCLUDED.definition, next_run_at_ms = EXCLUDED.next_run_at_ms,
    last_run_at_ms = EXCLUDED.last_run_at_ms, runs_total = EXCLUDED.runs_total
"""
_SELECT = "SELECT definition, next_run_at_ms, last_run_at_ms, runs_total FROM rivetq_schedules"
_GET_ONE = _SELECT + " WHERE name = %(name)s"
_GET_ALL = _SELECT + " ORDER BY name"
_DELETE = "DELETE FROM rivetq_schedules WHERE name = %(name)s RETURNING 1"
_ADVANCE = """
UPDATE rivetq_schedules SET next_run_at_ms = %(next)s, last_run_at_ms = %(last)s, runs_total = runs_total + %(fired)s
WHERE name = %(name)s AND next_run_at_ms = %(due)s
RETURNING 1
"""


async def put_schedule(conn: Connection, schedule: Schedule) -> None:
    params = {
        "name": schedule.name,
        "definition": _encoder.encode(schedule),
        "next": schedule.next_run_at_ms,
        "last": schedule.last_run_at_ms,
        "runs": schedule.runs_total,
    }
    await conn.execute(_PUT, params)


async def get_schedules(conn: Connection, name: str | None) -> list[Schedule]:
    """The named schedule (or every one, by name)."""
    query, params = (_GET_ALL, {}) if name is None else (_GET_ONE, {"name": name})
    rows = await (await conn.execute(query, params)).fetchall()
    return [
        msgspec.structs.replace(
            _decoder.decode(definition), next_run_at_ms=next_ms, last_run_at_ms=last_ms, runs_total=runs
        )
        for definition, next_ms, last_ms, runs in rows
    ]


async def delete_schedule(conn: Connection, name: str) -> bool:
    return await (await conn.execute(_DELETE, {"name": name})).fetchone() is not None


async def advance_schedule(
    conn: Connection, name: str, *, due_ms: int, next_run_at_ms: int, last_run_at_ms: int, fired: int
) -> bool:
    params = {"name": name, "due": due_ms, "next": next_run_at_ms, "last": last_run_at_ms, "fired": fired}
    return await (await conn.execute(_ADVANCE, params)).fetchone() is not None
