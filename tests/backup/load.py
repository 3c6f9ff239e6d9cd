"""Client traffic against a real server that remembers when each write was acknowledged,
and the checks a restored server must pass against it."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.e2e.server import rivetqd_path

__all__ = ["QUEUE", "VISIBILITY_MS", "Load", "check_restored", "drain", "restore"]

QUEUE = "dr"
VISIBILITY_MS = 3_000


@dataclass
class Load:
    """Enqueue one job per call; every 4th call also leases two jobs and acks one of them."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    enqueued: dict[str, float] = field(default_factory=dict)  # job id → when its enqueue was answered
    acked: dict[str, float] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Load:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, headers=self.headers, timeout=10.0) as http:
            calls = 0
            while not self._stop.is_set():
                calls += 1
                self._enqueue(http, calls)
                if calls % 4 == 0:
                    self._lease_and_ack_one(http)

    def _enqueue(self, http: httpx.Client, n: int) -> None:
        answer = http.post(f"/v1/queues/{QUEUE}/enqueue", json={"payload": {"n": n}})
        if answer.status_code != 201:
            self.refused.append(answer.text)
            return
        self.enqueued[answer.json()["job_id"]] = time.time()

    def _lease_and_ack_one(self, http: httpx.Client) -> None:
        answer = http.post(f"/v1/queues/{QUEUE}/lease", json={"max_jobs": 2, "visibility_ms": VISIBILITY_MS})
        if answer.status_code != 200:
            self.refused.append(answer.text)
            return
        jobs = answer.json()["jobs"]
        if jobs:
            job = jobs[0]
            acked = http.post("/v1/ack", json={"job_id": job["id"], "lease_id": job["lease_id"]})
            if acked.status_code == 200:
                self.acked[job["id"]] = time.time()
            else:
                self.refused.append(acked.text)

    def expect_after_restore(self, cutoff: float, *, until: float | None = None) -> tuple[set[str], set[str]]:
        """(jobs that must be back, jobs that must not) for a restore of everything shipped
        up to ``until`` (the kill when None) that may lose what was acknowledged after ``cutoff``."""
        until = until if until is not None else float("inf")
        must = {job for job, at in self.enqueued.items() if at < cutoff and self.acked.get(job, until) >= until}
        gone = {job for job, at in self.acked.items() if at < cutoff}
        gone |= {job for job, at in self.enqueued.items() if at > until}
        return must, gone


def drain(url: str) -> list[str]:
    """Every job id the restored server hands out once the leases of before have expired."""
    time.sleep(VISIBILITY_MS / 1000 + 0.5)
    leased: list[str] = []
    with httpx.Client(base_url=url, timeout=10.0) as http:
        while True:
            answer = http.post(f"/v1/queues/{QUEUE}/lease", json={"max_jobs": 100, "visibility_ms": 600_000})
            answer.raise_for_status()
            jobs = answer.json()["jobs"]
            if not jobs:
                return leased
            leased += [job["id"] for job in jobs]


def check_restored(load: Load, leased: list[str], cutoff: float, *, until: float | None = None) -> None:
    duplicates = [job for job, count in Counter(leased).items() if count > 1]
    assert duplicates == []
    must, gone = load.expect_after_restore(cutoff, until=until)
    assert must, "the test must have writes older than the loss window"
    assert must - set(leased) == set(), "writes acknowledged before the loss window are missing"
    assert set(leased) & gone == set(), "acked (or later) jobs came back"
    assert set(leased) <= set(load.enqueued)


def restore(source: str, data_dir: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    clean = {name: value for name, value in os.environ.items() if not name.startswith("RIVETQ_")}
    return subprocess.run(
        [rivetqd_path(), "restore", source, "--data-dir", str(data_dir), *extra],
        check=False,
        env={**clean, "RIVETQ_WAL_SPACE_RESERVE": "1MiB", **env},  # as the tests' servers
        cwd=data_dir.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
