"""The release artifacts as a user gets them: ``make dist`` builds an sdist and a wheel,
and the wheel, installed into a fresh venv (no checkout on ``sys.path``, no Node), gives a
``rivetqd`` that serves ``/ui/``, ``/docs``, REST and gRPC, with the version written in
``rivetq/_version.py``."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from rivetq._version import __version__
from tests.e2e.server import RunningServer, start_server

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], cwd: Path) -> str:
    """Run a command and return its stdout; fail with its whole output if it fails."""
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(f"{args} exited with {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("dist") / "dist"
    run(["make", "dist", f"DIST={directory}"], cwd=ROOT)
    return directory


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel and its ``server`` extra, and nothing of the checkout."""
    directory = tmp_path_factory.mktemp("venv")
    (wheel,) = dist.glob("rivetq-*.whl")
    run([sys.executable, "-m", "venv", str(directory)], cwd=directory)
    run([str(directory / "bin" / "pip"), "install", "-q", f"{wheel}[server]"], cwd=directory)
    return directory


@pytest.fixture(scope="module")
def server(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with start_server(tmp_path_factory.mktemp("server"), program=str(venv / "bin" / "rivetqd")) as running:
        yield running


def test_dist_holds_an_sdist_and_a_wheel_of_the_version(dist: Path) -> None:
    assert sorted(path.name for path in dist.iterdir()) == [
        f"rivetq-{__version__}-py3-none-any.whl",
        f"rivetq-{__version__}.tar.gz",
    ]


def test_the_wheel_and_the_sdist_carry_the_license(dist: Path) -> None:
    (wheel,) = dist.glob("rivetq-*.whl")
    (sdist,) = dist.glob("rivetq-*.tar.gz")
    with zipfile.ZipFile(wheel) as wheel_files, tarfile.open(sdist) as sdist_files:
        assert any(name.endswith(".dist-info/licenses/LICENSE") for name in wheel_files.namelist())
        assert any(name.endswith("/LICENSE") for name in sdist_files.getnames())


def test_the_installed_package_is_the_wheel_not_the_checkout(venv: Path) -> None:
    script = "import rivetq, sys; print(rivetq.__file__); print(sys.path)"
    where = run([str(venv / "bin" / "python"), "-c", script], venv)
    package_file, path = where.splitlines()
    assert Path(package_file).is_relative_to(venv)
    assert str(ROOT) not in path


@pytest.mark.parametrize("program", ["rivetqd", "rivetqctl"])
def test_version_options_print_the_version(venv: Path, program: str) -> None:
    assert run([str(venv / "bin" / program), "--version"], venv).strip() == f"{program}, version {__version__}"


def test_serves_the_admin_ui_and_the_api_docs(server: RunningServer) -> None:
    with server.client() as http:
        ui = http.get("/ui/")
        docs = http.get("/docs")
        openapi = http.get("/openapi.json")
    assert ui.status_code == 200
    assert ui.headers["content-type"].startswith("text/html")
    assert "/ui/_next/static/" in ui.text  # the built Next.js export, not a placeholder
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text
    assert openapi.json()["info"]["version"] == __version__


def test_rest_enqueue_lease_ack(server: RunningServer) -> None:
    with server.client() as http:
        job_id = http.post("/v1/queues/wheel/enqueue", json={"payload": {"n": 1}}).json()["job_id"]
        (job,) = http.post("/v1/queues/wheel/lease", json={"max_jobs": 1}).json()["jobs"]
        acked = http.post("/v1/ack", json={"job_id": job["id"], "lease_id": job["lease_id"]})
    assert job["id"] == job_id
    assert acked.json() == {"success": True}


GRPC_ROUND_TRIP = """
import sys
from rivetq import GrpcClient

with GrpcClient(sys.argv[1]) as client:
    job_id = client.enqueue("wheel-grpc", {"n": 2})
    (job,) = client.lease("wheel-grpc")
    client.ack(job.id, job.lease_id)
    print(job.id == job_id, job.payload)
"""


def test_grpc_through_the_installed_generated_code(server: RunningServer, venv: Path) -> None:
    assert server.grpc_target is not None
    out = run([str(venv / "bin" / "python"), "-c", GRPC_ROUND_TRIP, server.grpc_target], venv)
    assert out.strip() == "True {'n': 2}"
