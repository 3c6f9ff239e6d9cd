"""A real rivetqd against slow and greedy clients: read deadlines for headers and body
(408), a header size cap (431), a connection cap (503); and its access log."""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from rivetq.server.app import Runtime
from rivetq.server.serve import _uvicorn_config
from tests.e2e.server import RunningServer, self_signed_certificate, start_server
from tests.server.conftest import settings_with

HANG_GUARD_S = 20.0  # a deadline the server misses fails the test instead of hanging it
TOKEN = "tok-never-logged"


@pytest.fixture(scope="module")
def rivetqd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {
        "RIVETQ_SERVER_READ_HEADER_TIMEOUT": "1s",  # short, yet far above any stall of a loaded CI machine
        "RIVETQ_SERVER_READ_BODY_TIMEOUT": "1s",
        "RIVETQ_LOGGING_ACCESS_LOG": "true",
    }
    directory = tmp_path_factory.mktemp("rivetqd")
    with start_server(directory, "--storage-backend", "memory", env=env, grpc=False, token=TOKEN) as server:
        yield server


def _connect(server: RunningServer) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=HANG_GUARD_S)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65_536):
        chunks.append(chunk)
    return b"".join(chunks)


def _wait_for_log(server: RunningServer, what: str, **fields: object) -> None:
    deadline = time.monotonic() + HANG_GUARD_S
    while not any(fields.items() <= event.items() for event in server.log_events()):
        assert time.monotonic() < deadline, f"no access log line for {what}"
        time.sleep(0.05)


def _wait_for_refusal(server: RunningServer, status: int, code: str, path: str | None = None) -> None:
    _wait_for_log(server, f"a {status}", event="http_request", status=status, refused=code, path=path)


def _status_and_code(response: bytes) -> tuple[int, str]:
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)["error"]["code"]


def test_headers_sent_too_slowly_get_408(rivetqd: RunningServer) -> None:
    with _connect(rivetqd) as sock:
        sock.sendall(b"GET /v1/queues HTTP/1.1\r\nHost: x\r\n")
        assert _status_and_code(_read_until_closed(sock)) == (408, "request_timeout")
    _wait_for_refusal(rivetqd, 408, "request_timeout")  # headers unread: no method, no path


def test_a_body_sent_too_slowly_gets_408(rivetqd: RunningServer) -> None:
    with _connect(rivetqd) as sock:
        head = (
            "POST /v1/queues/slow/enqueue HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {TOKEN}\r\nContent-Length: 100\r\n\r\n"
        )
        sock.sendall(head.encode() + b'{"payload": ')
        assert _status_and_code(_read_until_closed(sock)) == (408, "request_timeout")
    with rivetqd.client() as http:  # nothing was enqueued, and the server still serves
        assert http.get("/v1/queues/slow/stats").status_code == 404
    _wait_for_refusal(rivetqd, 408, "request_timeout", "/v1/queues/slow/enqueue")  # once the app is done
    logged = [event for event in rivetqd.log_events() if event.get("path") == "/v1/queues/slow/enqueue"]
    assert [(event["status"], event["refused"]) for event in logged] == [(408, "request_timeout")]
    assert logged[0]["duration_ms"] >= 0
    assert [event for event in rivetqd.log_events() if event["level"] == "error"] == []


def test_a_connection_that_sends_nothing_is_closed(rivetqd: RunningServer) -> None:
    with _connect(rivetqd) as sock:
        assert _read_until_closed(sock) == b""


def test_a_connection_kept_alive_then_stalling_mid_headers_gets_408(rivetqd: RunningServer) -> None:
    with _connect(rivetqd) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first = sock.recv(65_536)
        assert first.startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        assert _status_and_code(_read_until_closed(sock)) == (408, "request_timeout")


def test_pipelined_requests_are_all_answered(rivetqd: RunningServer) -> None:
    with _connect(rivetqd) as sock:
        sock.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 2
            + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert _read_until_closed(sock).count(b"HTTP/1.1 200") == 3


def test_over_tls_headers_sent_too_slowly_get_408(tmp_path: Path) -> None:
    tls = self_signed_certificate(tmp_path)
    env = {"RIVETQ_SERVER_READ_HEADER_TIMEOUT": "1s"}
    with start_server(tmp_path / "server", "--storage-backend", "memory", env=env, grpc=False, tls=tls) as server:
        assert isinstance(server.verify, ssl.SSLContext)
        host, port = server.url.removeprefix("https://").split(":")
        raw = socket.create_connection((host, int(port)), timeout=HANG_GUARD_S)
        with server.verify.wrap_socket(raw, server_hostname=host) as sock:
            sock.sendall(b"GET /v1/queues HTTP/1.1\r\nHost: x\r\n")
            assert _status_and_code(_read_until_closed(sock)) == (408, "request_timeout")


def test_oversized_headers_get_431(rivetqd: RunningServer) -> None:
    with _connect(rivetqd) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        for _ in range(20):
            sock.sendall(b"X-Filler: " + b"a" * 8_000 + b"\r\n")  # the server reads on after refusing
        assert _status_and_code(_read_until_closed(sock)) == (431, "headers_too_large")
    _wait_for_refusal(rivetqd, 431, "headers_too_large")


_BIG_HEADER = b"X-Big: " + b"a" * 70_000 + b"\r\n"


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + _BIG_HEADER + b"\r\n",
        b"POST /v1/queues/big/enqueue HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + b"Content-Length: 14\r\n"
        + b"X-Filler: 1234567\r\n" * 5_000
        + b"\r\n"
        + b'{"payload": 1}',
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n" + _BIG_HEADER + b"\r\n",
    ],
    ids=["one-header", "many-headers-and-a-body", "second-request"],
)
def test_oversized_headers_sent_in_one_write_get_431(rivetqd: RunningServer, request_bytes: bytes) -> None:
    with _connect(rivetqd) as sock:
        sock.sendall(request_bytes)
        answer = _read_until_closed(sock)
    assert answer.rsplit(b"HTTP/1.1 ", 1)[1].startswith(b"431"), answer[:300]
    with rivetqd.client() as http:
        assert http.get("/v1/queues/big/stats").status_code == 404  # the enqueue never ran


def test_headers_just_under_the_cap_are_served(rivetqd: RunningServer) -> None:
    with _connect(rivetqd) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: " + b"a" * 60_000 + b"\r\n\r\n")
        assert _read_until_closed(sock).startswith(b"HTTP/1.1 200")


def test_access_log_has_method_path_status_and_duration_but_no_token(rivetqd: RunningServer) -> None:
    with rivetqd.client() as http:
        assert http.post("/v1/queues/logged/enqueue", json={"payload": 1}).status_code == 201
        assert http.get("/v1/queues/logged/stats", params={"token": TOKEN}).status_code == 200
    with httpx.Client(base_url=rivetqd.url) as anonymous:
        assert anonymous.get("/v1/queues", headers={"Authorization": "Bearer wrong"}).status_code == 401
    requests = [event for event in rivetqd.log_events() if event["event"] == "http_request"]
    seen = {(event["method"], event["path"], event["status"]) for event in requests}
    assert {
        ("POST", "/v1/queues/logged/enqueue", 201),
        ("GET", "/v1/queues/logged/stats", 200),
        ("GET", "/v1/queues", 401),
    } <= seen
    answered = [event for event in requests if "refused" not in event]  # refusals have no duration
    assert all(event["level"] == "info" and event["duration_ms"] >= 0 for event in answered)
    assert TOKEN not in rivetqd.output() and "wrong" not in rivetqd.output()


def test_no_access_log_unless_enabled(tmp_path: Path) -> None:
    with start_server(tmp_path, "--storage-backend", "memory", grpc=False) as server:
        with server.client() as http:
            assert http.get("/v1/queues").status_code == 200
        assert server.terminate() == 0
        assert [event for event in server.log_events() if event["event"] == "http_request"] == []


def test_connections_above_max_connections_get_503(tmp_path: Path) -> None:
    env = {"RIVETQ_SERVER_MAX_CONNECTIONS": "3", "RIVETQ_LOGGING_ACCESS_LOG": "true"}
    # One process: with several, each front holds its share and the kernel picks the front.
    args = ("--storage-backend", "memory", "--workers", "1")
    with start_server(tmp_path, *args, env=env, grpc=False) as server, ExitStack() as idle:
        for _ in range(3):  # kept alive after one answered request, so surely counted
            sock = idle.enter_context(_connect(server))
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(65_536).startswith(b"HTTP/1.1 200")
        with server.client() as http:  # a fourth
            response = http.get("/healthz")
            assert (response.status_code, response.json()["error"]["code"]) == (503, "too_many_connections")
        _wait_for_refusal(server, 503, "too_many_connections")


def test_keep_alive_timeout_is_in_whole_seconds_rounded_up() -> None:
    settings = settings_with(**{"server.keep_alive_timeout": "1500ms", "storage.backend": "memory"})
    config = _uvicorn_config(settings, Runtime(settings))
    assert config.timeout_keep_alive == 2
