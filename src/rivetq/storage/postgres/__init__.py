"""The PostgreSQL backend (``storage.backend: postgres``): several rivetqd nodes on one database."""

from __future__ import annotations

from rivetq.storage.postgres.backend import PostgresStorage
from rivetq.storage.postgres.migrate import apply_migrations

__all__ = ["PostgresStorage", "apply_migrations"]
