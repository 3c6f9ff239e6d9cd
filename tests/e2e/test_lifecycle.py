"""rivetqd as an operator runs it: startup line, graceful shutdown, one owner per data dir,
bad config, auth."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import ServerFactory, self_signed_certificate, spawn_server, start_server

pytestmark = pytest.mark.slow


def _enqueue(client: httpx.Client, queue: str = "emails") -> str:
    response = client.post(f"/v1/queues/{queue}/enqueue", json={"payload": {"n": 1}})
    assert response.status_code == 201, response.text
    job_id: str = response.json()["job_id"]
    return job_id


def test_rivetqd_logs_one_startup_line_with_its_addresses(servers: ServerFactory) -> None:
    server = servers.start()
    [started] = [event for event in server.log_events() if event["event"] == "rivetqd_started"]
    assert started["http"] == server.url
    assert started["grpc"] == f"grpc://{server.grpc_target}"
    assert started["storage"] == "local"
    assert started["data_dir"] == str(server.data_dir)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_rivetqd_exits_0_after_a_graceful_shutdown_and_keeps_the_jobs(servers: ServerFactory, sig: int) -> None:
    server = servers.start()
    with server.client() as client:
        job_id = _enqueue(client)
    assert server.terminate(signal.Signals(sig)) == 0
    events = [event["event"] for event in server.log_events()]
    assert events.index("rivetqd_stopping") < events.index("rivetqd_stopped")
    restarted = servers.start(data_dir=server.data_dir)
    with restarted.client() as client:
        assert client.get(f"/v1/jobs/{job_id}").json()["state"] == "ready"


def test_a_second_rivetqd_on_the_same_data_dir_exits_with_the_lock_message(
    servers: ServerFactory, tmp_path: Path
) -> None:
    first = servers.start()
    process, log_path, _, _ = spawn_server(tmp_path / "second", data_dir=first.data_dir)
    assert process.wait(20) == 1
    assert "already in use" in log_path.read_text()
    with first.client() as client:
        assert client.get("/readyz").status_code == 200


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RIVETQ_WAL_FSYNC": "maybe"}, "config: wal.fsync: expected a boolean, got 'maybe'"),
        (
            {"RIVETQ_STORAGE_BACKEND": "postgres", "RIVETQ_STORAGE_DSN": "postgresql://u:s3cretXYZ@[::1:5432/db"},
            "config: storage.dsn: not a PostgreSQL connection string",
        ),
    ],
    ids=["fsync", "dsn"],
)
def test_rivetqd_refuses_a_bad_config_value_naming_the_key(tmp_path: Path, env: dict[str, str], message: str) -> None:
    process, log_path, _, _ = spawn_server(tmp_path, env=env)
    assert process.wait(20) == 2
    output = log_path.read_text()
    assert message in output and "s3cretXYZ" not in output and "Traceback" not in output


def test_rivetqd_with_tokens_refuses_calls_without_one(servers: ServerFactory) -> None:
    server = servers.start(token="s3cret-token")
    with httpx.Client(base_url=server.url) as anonymous:
        assert anonymous.get("/v1/queues").status_code == 401
        assert anonymous.get("/healthz").status_code == 200
    with server.client() as client:
        _enqueue(client)
        assert client.get("/v1/queues").status_code == 200
    assert "s3cret-token" not in server.output()


@pytest.mark.parametrize(
    ("flags", "fsync"),
    [(("--fsync=false",), False), (("--no-fsync",), False), (("--fsync",), True), (("--fsync", "true"), True)],
)
def test_rivetqd_fsync_flag_forms(servers: ServerFactory, flags: tuple[str, ...], fsync: bool) -> None:
    server = servers.start(*flags, grpc=False, env={"RIVETQ_WAL_FSYNC": "false" if fsync else "true"})
    [started] = [event for event in server.log_events() if event["event"] == "rivetqd_started"]
    assert started["fsync"] is fsync


def test_rivetqd_reads_config_yaml_from_its_working_directory(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("storage:\n  backend: memory\n")
    with start_server(tmp_path, grpc=False) as server:
        [started] = [event for event in server.log_events() if event["event"] == "rivetqd_started"]
    assert started["storage"] == "memory"


def test_rivetqd_serves_https_when_given_a_certificate_and_key(servers: ServerFactory, tmp_path: Path) -> None:
    server = servers.start(tls=self_signed_certificate(tmp_path))
    assert server.url.startswith("https://")
    with server.client() as client:
        _enqueue(client)
    [started] = [event for event in server.log_events() if event["event"] == "rivetqd_started"]
    assert started["http"] == server.url
    with pytest.raises(httpx.TransportError), httpx.Client() as plain:
        plain.get(server.url.replace("https://", "http://") + "/healthz")


def test_rivetqd_exits_1_naming_the_address_when_the_port_is_taken(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        addr = f"127.0.0.1:{taken.getsockname()[1]}"
        process, log_path, _, _ = spawn_server(tmp_path, "--http-addr", addr, grpc=False)
        assert process.wait(20) == 1
    assert f"server.http_addr: cannot listen on {addr}" in log_path.read_text()


def test_rivetqd_dumps_its_stacks_with_grpc_serving(servers: ServerFactory) -> None:
    """grpc's Cython coroutines have frames without a line number; the dump must not fail on them."""
    server = servers.start(env={"RIVETQ_SERVER_DEBUG_ENDPOINTS": "true"})
    with server.client() as http:
        stacks = http.get("/debug/stacks")
    assert stacks.status_code == 200, stacks.text
    assert "--- thread MainThread" in stacks.text and "--- task" in stacks.text
