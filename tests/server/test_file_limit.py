"""rivetqd raises its open file limit at startup, so a soft limit of 1024 does not make it
refuse connections (EMFILE) far below ``server.max_connections``."""

from __future__ import annotations

import resource
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import start_server

CONNECTIONS = 1_100  # more than a soft limit of 1024 allows
TIMEOUT_S = 10.0


@contextmanager
def _soft_file_limit(limit: int) -> Iterator[None]:
    """Lower this process's soft limit (children inherit it), then put it back."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_server_started_with_a_low_soft_limit_serves_past_it(tmp_path: Path) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2 * CONNECTIONS:
        pytest.fail(f"this machine's hard open file limit ({hard}) is too low for the test")
    with _soft_file_limit(1024):
        server = start_server(tmp_path, "--storage-backend", "memory", grpc=False)
    with server, ExitStack() as held:
        host, port = server.url.removeprefix("http://").split(":")
        for _ in range(CONNECTIONS):
            held.enter_context(socket.create_connection((host, int(port)), timeout=TIMEOUT_S))
        with server.client() as http:
            assert http.get("/healthz", timeout=TIMEOUT_S).status_code == 200
        assert httpx.get(f"{server.url}/healthz", timeout=TIMEOUT_S).status_code == 200


_PROBE = """
import resource, sys
from structlog.testing import capture_logs
from rivetq.server.file_limit import raise_open_file_limit
with capture_logs() as logs:
    limit = raise_open_file_limit(int(sys.argv[1]), int(sys.argv[2]))
print(limit, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
for entry in logs:
    print(entry["log_level"], entry["event"], entry["connections_held"], entry["connection_caps"])
"""


def _probe(http: int, grpc: int, soft: int, hard: int) -> list[str]:
    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(http), str(grpc)],
        preexec_fn=limits,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip().splitlines()


def test_the_soft_limit_rises_to_the_hard_one() -> None:
    assert _probe(1_000, 1_000, soft=256, hard=4_000) == ["4000 4000"]


def test_a_hard_limit_below_one_connection_cap_is_warned_about() -> None:
    assert _probe(1_000, 1_000, soft=256, hard=800) == [
        "800 800", "warning rivetqd_open_file_limit 736 HTTP 1000 + gRPC 1000"
    ]  # fmt: skip
    assert _probe(1_000, 0, soft=256, hard=800)[1:] == ["warning rivetqd_open_file_limit 736 HTTP 1000"]


def test_a_hard_limit_that_holds_each_cap_but_not_both_is_only_noted() -> None:
    """The default caps (10,000 each) on a machine whose hard limit is 20,000 warned of
    wanting 20,064 files "below server.max_connections" at every start."""
    assert _probe(10_000, 10_000, soft=1_024, hard=20_000) == [
        "20000 20000", "info rivetqd_open_file_limit 19936 HTTP 10000 + gRPC 10000"
    ]  # fmt: skip
