"""The online backup call on PostgreSQL: the jobs live in the database, so the server
answers that pg_dump (or the database's own recovery) is the tool, and writes nothing."""

from __future__ import annotations

from pathlib import Path

from tests.pg.test_rest_on_postgres import make_client
from tests.server.conftest import ApiClient, client, clock

__all__ = ["client", "clock", "make_client"]


async def test_a_backup_on_postgres_says_to_use_pg_dump(client: ApiClient, tmp_path: Path) -> None:
    answer = await client.post("/v1/admin/backup", json={"dest": str(tmp_path / "backup")})
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "state_conflict"
    assert "pg_dump" in answer.json()["error"]["message"]
    assert not (tmp_path / "backup").exists()
