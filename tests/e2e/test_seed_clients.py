"""The seed project's public Python and Go clients, unchanged (their copy sits beside this
repository's clone, in ``../shared/seed-clients``), make every call they have against a
real rivetqd."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.e2e.server import RunningServer, start_server

REPO = Path(__file__).resolve().parents[2]
SEED = REPO.parent / "shared" / "seed-clients"
GO_MODULE = REPO / "tests" / "seed" / "go"
TRACE = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}


def _require(present: bool, what: str) -> None:
    """A missing prerequisite fails under CI and skips elsewhere."""
    if present:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is missing")
    pytest.skip(f"{what} is missing")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with start_server(tmp_path_factory.mktemp("rivetqd"), "--storage-backend", "memory", grpc=False) as running:
        yield running


@pytest.fixture(scope="module")
def seed_python() -> ModuleType:
    """The seed's ``rivetq`` package, loaded under another name beside ours."""
    package = SEED / "clients" / "python" / "rivetq"
    _require(package.is_dir(), f"the seed's Python client ({package})")
    spec = importlib.util.spec_from_file_location(
        "seed_rivetq", package / "__init__.py", submodule_search_locations=[str(package)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def seed_client(seed_python: ModuleType, server: RunningServer) -> Any:
    return seed_python.Client(server.url, timeout=10)


def test_seed_python_client_enqueue_with_headers_lease_ack_and_stats(seed_client: Any) -> None:
    queue = f"seed-py-{uuid.uuid4().hex[:8]}"
    job_id = seed_client.enqueue(queue, {"n": 1}, priority=7, idempotency_key="order-1", headers=TRACE)
    assert seed_client.enqueue(queue, {"n": 2}, idempotency_key="order-1") == job_id
    [job] = seed_client.lease(queue, max_jobs=5, visibility_ms=30_000)
    assert (job["id"], job["queue"], job["payload"], job["priority"], job["tries"]) == (job_id, queue, {"n": 1}, 7, 0)
    assert job["headers"] == TRACE
    stats = seed_client.stats(queue)
    assert (stats["ready"], stats["inflight"], stats["dlq"]) == (0, 1, 0)
    seed_client.ack(job["id"], job["lease_id"])
    assert seed_client.stats(queue)["inflight"] == 0
    assert queue in seed_client.list_queues()


def test_seed_python_client_nack_and_rate_limit(seed_client: Any) -> None:
    queue = f"seed-py-{uuid.uuid4().hex[:8]}"
    seed_client.enqueue(queue, "once", max_retries=0)
    [job] = seed_client.lease(queue)
    seed_client.nack(job["id"], job["lease_id"], reason="smtp timeout")
    assert seed_client.stats(queue)["dlq"] == 1
    seed_client.set_rate_limit(queue, capacity=10, refill_rate=2.5)
    assert seed_client.get_rate_limit(queue) == {"capacity": 10, "refill_rate": 2.5, "exists": True}


def test_seed_python_client_reports_server_errors(seed_client: Any, seed_python: ModuleType) -> None:
    with pytest.raises(seed_python.client.RivetQError, match="HTTP 400"):
        seed_client.enqueue("errors", 1, priority=10)
    with pytest.raises(seed_python.client.RivetQError, match="HTTP 404"):
        seed_client.ack("no-such-job", "no-such-lease")


def test_seed_go_client_and_examples(server: RunningServer, tmp_path: Path) -> None:
    go = shutil.which("go")
    _require(go is not None, "go (the Go toolchain)")
    _require((SEED / "clients" / "go").is_dir(), f"the seed's Go client ({SEED / 'clients' / 'go'})")
    assert go is not None
    cache = REPO / "test-artifacts" / "go"
    env = {
        **os.environ,
        "GOFLAGS": "-mod=mod",
        "GOTOOLCHAIN": "local",
        "GOPROXY": "off",
        "GOSUMDB": "off",
        "GOPATH": str(cache / "path"),
        "GOCACHE": str(cache / "cache"),
        "RIVETQ_URL": server.url,
    }
    for example in ("producer", "consumer"):  # the seed's examples compile unchanged
        source = SEED / "examples" / example / "main.go"
        _go(go, ["build", "-o", str(tmp_path / example), str(source)], env)
    _go(go, ["test", "-count=1", "-timeout=120s", "./..."], env)


def _go(go: str, args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run([go, *args], check=False, cwd=GO_MODULE, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"go {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
