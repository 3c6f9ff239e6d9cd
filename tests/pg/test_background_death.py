"""A background loop that dies stops ``rivetqd``: exit status 1 and a log line naming
the error, never a server that goes on answering with a dead lease reaper.

The reaper is killed for real: its table is renamed under it, so its next query fails
with an error that is no outage (``UndefinedTable``, not ``StorageUnavailable``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.e2e.server import STOP_TIMEOUT_S, RunningServer, start_server


@pytest.fixture
def rivetqd(fresh_database: str, tmp_path: Path) -> Iterator[RunningServer]:
    env = {"RIVETQ_STORAGE_DSN": fresh_database, "RIVETQ_QUEUE_LEASE_CHECK_INTERVAL": "50ms"}
    with start_server(tmp_path, "--storage-backend", "postgres", env=env, grpc=False) as server:
        yield server


def test_a_dead_lease_reaper_stops_rivetqd_with_status_1(rivetqd: RunningServer, fresh_database: str) -> None:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("ALTER TABLE rivetq_jobs RENAME TO rivetq_jobs_moved")
    assert rivetqd.process.wait(STOP_TIMEOUT_S) == 1
    events = rivetqd.log_events()
    died = [event for event in events if event["event"] == "rivetqd_background_loop_died"]
    # one line per node whose reaper died (with several workers, each is a node)
    assert died and all("rivetq_jobs" in event["error"] for event in died), rivetqd.output()
    assert any(event["event"] == "background loop lease_reaper died" for event in events), rivetqd.output()
    assert events[-1]["event"] == "rivetqd_stopped"
