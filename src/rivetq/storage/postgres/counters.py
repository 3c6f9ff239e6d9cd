"""Per-queue counters, spread over a few slot rows so that concurrent transactions of
one queue seldom wait on the same row lock; readers add the slots up."""

from __future__ import annotations

import random
from typing import LiteralString

__all__ = ["COUNTER_SLOTS", "add_count", "pick_slot"]

COUNTER_SLOTS = 8


def pick_slot() -> int:
    return random.randrange(COUNTER_SLOTS)  # spreads load: not a secret


def add_count(column: LiteralString, source: LiteralString) -> LiteralString:
    """A statement (for a ``WITH`` clause) that adds the rows of ``source`` (a CTE
    returning ``queue``) to ``column``; it needs the ``slot`` parameter."""
    return (
        f"INSERT INTO rivetq_counters AS c (queue, slot, {column})"
        f" SELECT queue, %(slot)s, count(*) FROM {source} GROUP BY queue"
        f" ON CONFLICT (queue, slot) DO UPDATE SET {column} = c.{column} + EXCLUDED.{column}"
    )
