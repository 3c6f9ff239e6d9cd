"""The Docker image as the quick start runs it: docker/docker-compose.yml starts RivetQ
(host network, 127.0.0.1 only), the HEALTHCHECK turns healthy, jobs go through REST, the
UI and the metrics answer, `docker compose stop` (SIGTERM) ends rivetqd with status 0,
and a new container finds the data in the volume."""

from __future__ import annotations

import contextlib
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


PORT_VARIABLES = (
    "RIVETQ_HTTP_PORT",
    "RIVETQ_GRPC_PORT",
    "RIVETQ_NODE1_HTTP_PORT",
    "RIVETQ_NODE1_GRPC_PORT",
    "RIVETQ_NODE2_HTTP_PORT",
    "RIVETQ_NODE2_GRPC_PORT",
    "RIVETQ_PG_PORT",
    "PROMETHEUS_PORT",
)


@dataclass
class Project:
    """One compose project with its own name, volumes and loopback ports."""

    name: str
    ports: dict[str, int]

    def url(self, variable: str = "RIVETQ_HTTP_PORT") -> str:
        return f"http://127.0.0.1:{self.ports[variable]}"

    def compose(self, *args: str) -> str:
        ports = {name: str(port) for name, port in self.ports.items()}
        env = {**_path_env(), **ports, "PROMETHEUS_SCRAPE_INTERVAL": "1s"}
        command = [*compose_command(), "-f", str(COMPOSE_FILE), "-p", self.name, *args]
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            raise AssertionError(f"{command} exited with {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def container(self, service: str = "rivetq") -> str:
        return self.compose("ps", "-q", service).strip()

    def state(self, service: str = "rivetq") -> dict[str, object]:
        inspected = subprocess.run(
            ["docker", "inspect", "--format", "{{json .State}}", self.container(service)],
            capture_output=True,
            text=True,
            check=True,
        )
        state: dict[str, object] = json.loads(inspected.stdout)
        return state

    def wait_healthy(self, service: str = "rivetq") -> None:
        deadline = time.monotonic() + HEALTHY_TIMEOUT_S
        while time.monotonic() < deadline:
            state = self.state(service)
            health = state.get("Health")
            if isinstance(health, dict) and health.get("Status") == "healthy":
                return
            if state.get("Status") == "exited":
                break
            time.sleep(0.5)
        raise AssertionError(f"not healthy: {self.state(service)}\n{self.compose('logs', '--no-color', service)}")


def _path_env() -> dict[str, str]:
    """This environment without RIVETQ_* variables (a developer's own must not leak in)."""
    return {name: value for name, value in os.environ.items() if not name.startswith("RIVETQ_")}


@pytest.fixture
def project() -> Iterator[Project]:
    running = Project(f"rivetq-test-{uuid.uuid4().hex[:8]}", {name: free_port() for name in PORT_VARIABLES})
    try:
        yield running
    finally:
        running.compose("--profile", "postgres", "--profile", "prometheus", "down", "--volumes", "--timeout", "5")


def test_quick_start_serves_survives_sigterm_and_keeps_its_data(project: Project) -> None:
    project.compose("up", "-d", "rivetq")
    project.wait_healthy()

    with httpx.Client(base_url=project.url(), timeout=10) as http:
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

    # A new container: what it finds can only come from the volume.
    project.compose("rm", "-f", "rivetq")
    project.compose("up", "-d", "rivetq")
    project.wait_healthy()
    with httpx.Client(base_url=project.url(), timeout=10) as http:
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


def test_postgres_profile_runs_two_nodes_on_one_database(project: Project) -> None:
    project.compose("--profile", "postgres", "up", "-d", "--build", "postgres", "rivetq-node1", "rivetq-node2")
    project.wait_healthy("rivetq-node1")
    project.wait_healthy("rivetq-node2")
    with (
        httpx.Client(base_url=project.url("RIVETQ_NODE1_HTTP_PORT"), timeout=10) as node1,
        httpx.Client(base_url=project.url("RIVETQ_NODE2_HTTP_PORT"), timeout=10) as node2,
    ):
        job_id = node1.post("/v1/queues/shared/enqueue", json={"payload": {"n": 1}}).json()["job_id"]
        (job,) = node2.post("/v1/queues/shared/lease", json={"max_jobs": 1}).json()["jobs"]
        assert node1.post("/v1/ack", json={"job_id": job["id"], "lease_id": job["lease_id"]}).json() == {
            "success": True
        }
        stats = node2.get("/v1/queues/shared/stats").json()
    assert (job["id"], job["payload"]) == (job_id, {"n": 1})
    assert (stats["queue"], stats["acked_total"]) == ("shared", 1)


def test_prometheus_profile_scrapes_rivetq(project: Project) -> None:
    project.compose("--profile", "prometheus", "up", "-d", "--build", "rivetq", "prometheus")
    project.wait_healthy()
    deadline = time.monotonic() + HEALTHY_TIMEOUT_S
    with httpx.Client(base_url=project.url("PROMETHEUS_PORT"), timeout=10) as prometheus:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                query = {"query": "rivetq_wal_segments"}
                result = prometheus.get("/api/v1/query", params=query).json()["data"]["result"]
                if result:
                    break
            time.sleep(1)
        else:
            raise AssertionError(project.compose("logs", "--no-color", "prometheus"))
    assert any(sample["metric"]["instance"] == f"127.0.0.1:{project.ports['RIVETQ_HTTP_PORT']}" for sample in result)
