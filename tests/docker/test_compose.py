"""The Docker image as the quick start runs it: docker/docker-compose.yml starts RivetQ
(host network, 127.0.0.1 only), the HEALTHCHECK turns healthy, jobs go through REST, the
UI and the metrics answer, `docker compose stop` (SIGTERM) ends rivetqd with status 0,
and the next start finds the data in the volume."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import free_port

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker" / "docker-compose.yml"
HEALTHY_TIMEOUT_S = 90.0


def compose_command() -> list[str]:
    """`docker compose` (v2) where the plugin is installed, else `docker-compose` (v1)."""
    if subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise RuntimeError("neither `docker compose` nor `docker-compose` is installed")


@dataclass
class Project:
    """One compose project with its own name, volumes and loopback ports."""

    name: str
    http_port: int
    grpc_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def compose(self, *args: str) -> str:
        env = {"RIVETQ_HTTP_PORT": str(self.http_port), "RIVETQ_GRPC_PORT": str(self.grpc_port)}
        command = [*compose_command(), "-f", str(COMPOSE_FILE), "-p", self.name, *args]
        done = subprocess.run(command, capture_output=True, text=True, env={**_path_env(), **env}, check=False)
        if done.returncode != 0:
            raise AssertionError(f"{command} exited with {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def container(self) -> str:
        return self.compose("ps", "-q", "rivetq").strip()

    def state(self) -> dict[str, object]:
        inspected = subprocess.run(
            ["docker", "inspect", "--format", "{{json .State}}", self.container()],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(inspected.stdout)  # type: ignore[no-any-return]

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + HEALTHY_TIMEOUT_S
        while time.monotonic() < deadline:
            state = self.state()
            health = state.get("Health")
            if isinstance(health, dict) and health.get("Status") == "healthy":
                return
            if state.get("Status") == "exited":
                break
            time.sleep(0.5)
        raise AssertionError(f"not healthy: {self.state()}\n{self.compose('logs', '--no-color', 'rivetq')}")


def _path_env() -> dict[str, str]:
    """This environment without RIVETQ_* variables (a developer's own must not leak in)."""
    return {name: value for name, value in os.environ.items() if not name.startswith("RIVETQ_")}


@pytest.fixture
def project() -> Iterator[Project]:
    running = Project(f"rivetq-test-{uuid.uuid4().hex[:8]}", free_port(), free_port())
    try:
        yield running
    finally:
        running.compose("down", "--volumes", "--timeout", "5")


def test_quick_start_serves_survives_sigterm_and_keeps_its_data(project: Project) -> None:
    project.compose("up", "-d", "rivetq")
    project.wait_healthy()

    with httpx.Client(base_url=project.url, timeout=10) as http:
        done_id = http.post("/v1/queues/emails/enqueue", json={"payload": {"to": "ada"}}).json()["job_id"]
        (job,) = http.post("/v1/queues/emails/lease", json={"max_jobs": 1}).json()["jobs"]
        assert job["id"] == done_id
        assert http.post("/v1/ack", json={"job_id": job["id"], "lease_id": job["lease_id"]}).json() == {"success": True}
        kept_id = http.post("/v1/queues/emails/enqueue", json={"payload": {"to": "bob"}}).json()["job_id"]
        ui = http.get("/ui/")
        metrics = http.get("/metrics")
    assert ui.status_code == 200
    assert "/ui/_next/static/" in ui.text
    assert 'rivetq_jobs_acked_total{queue="emails"} 1.0' in metrics.text

    project.compose("stop", "--timeout", "30", "rivetq")  # SIGTERM, SIGKILL only after 30 s
    state = project.state()
    assert (state["Status"], state["ExitCode"], state["OOMKilled"]) == ("exited", 0, False)

    project.compose("start", "rivetq")
    project.wait_healthy()
    with httpx.Client(base_url=project.url, timeout=10) as http:
        kept = http.get(f"/v1/jobs/{kept_id}").json()
        gone = http.get(f"/v1/jobs/{done_id}")
    assert (kept["state"], kept["payload"]) == ("ready", {"to": "bob"})
    assert gone.status_code == 404


def test_runs_as_a_non_root_user_with_data_in_the_volume(project: Project) -> None:
    project.compose("up", "-d", "rivetq")
    project.wait_healthy()
    who = subprocess.run(
        ["docker", "exec", project.container(), "sh", "-c", "id -un; ls /data"],
        capture_output=True,
        text=True,
        check=True,
    )
    user, *data = who.stdout.split()
    assert user == "rivetq"
    assert data  # the embedded engine's files live in /data, the volume
