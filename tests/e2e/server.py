"""Start a real ``rivetqd`` subprocess for end-to-end tests (shared by every test tier
that needs a real server: REST, SDK, CLI, gRPC, UI).

Usage::

    from tests.e2e.server import start_server

    def test_something(tmp_path):
        with start_server(tmp_path, "--storage-backend", "memory") as server:
            httpx.get(f"{server.url}/v1/queues")

or, through the ``servers`` fixture (kills whatever is still running at teardown;
import it into your conftest with ``from tests.e2e.server import servers``)::

    def test_restart(servers):
        server = servers.start()
        ...
        server.kill()
        server = servers.start(data_dir=server.data_dir)

Each server listens on free loopback ports, runs in its own session with ``cwd`` set to
its directory (so no stray ``config.yaml`` is picked up), starts from a clean
environment (inherited ``RIVETQ_*`` variables are dropped), logs JSON lines into
``<dir>/rivetqd.log`` (``server.log_events()`` parses them) and is ready (``/readyz``
answered 200) when ``start_server`` returns.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import pytest

__all__ = [
    "RunningServer",
    "is_running",
    "ServerFactory",
    "free_port",
    "rivetqd_path",
    "self_signed_certificate",
    "servers",
    "spawn_server",
    "start_server",
    "wait_ready",
]

READY_TIMEOUT_S = 20.0
# ``make pytest`` runs the process-level tests with several workers (the default on a
# multi-core machine) and again with one: every test of a real server runs in both shapes.
WORKERS_ENV = "RIVETQ_TEST_WORKERS"
STOP_TIMEOUT_S = 20.0


def free_port() -> int:
    """A loopback TCP port nobody listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rivetqd_path() -> str:
    """The ``rivetqd`` script of the running interpreter's environment."""
    beside = Path(sys.executable).parent / "rivetqd"
    found = str(beside) if beside.exists() else shutil.which("rivetqd")
    if found is None:
        raise RuntimeError("rivetqd is not installed (run `make install`)")
    return found


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key (made with the openssl CLI)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@dataclass
class RunningServer:
    """One ``rivetqd`` process. ``url`` is the REST base URL (``http://127.0.0.1:PORT``),
    ``grpc_target`` the gRPC ``host:port`` (None when gRPC is disabled)."""

    process: subprocess.Popen[bytes]
    url: str
    grpc_target: str | None
    data_dir: Path
    log_path: Path
    token: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    verify: ssl.SSLContext | bool = True  # trusts the server's certificate when it speaks TLS

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    def processes(self) -> dict[str, int]:
        """PIDs by role: ``server`` (the supervisor, or the single process), ``owner``,
        ``front-0``... (from /proc; a multi-process server's children)."""
        found = {"server": self.pid}
        with contextlib.suppress(FileNotFoundError):
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
            for pid in map(int, children):
                with contextlib.suppress(FileNotFoundError, ValueError):
                    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
                    role = argv[argv.index("rivetq.server.procs.child") + 1]
                    found["owner" if role == "owner" else argv[argv.index("rivetq.server.procs.child") + 2]] = pid
        return found

    def output(self) -> str:
        """Everything the server wrote to stdout and stderr so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_events(self) -> list[dict[str, Any]]:
        """The JSON log lines parsed (lines that are not JSON are skipped)."""
        events = []
        for line in self.output().splitlines():
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict):
                    events.append(event)
        return events

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client on ``url`` that sends the token (if any) and JSON content type."""
        headers = {"Content-Type": "application/json", **self.headers, **kwargs.pop("headers", {})}
        timeout = kwargs.pop("timeout", 30)
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout, verify=self.verify, **kwargs)

    def kill(self) -> None:
        """SIGKILL (a crash), then reap; returns once its children (which die with it)
        are gone too, so their files and the data directory's lock are free."""
        children = [pid for role, pid in self.processes().items() if role != "server"]
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(STOP_TIMEOUT_S)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while any(is_running(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.02)

    def terminate(self, sig: signal.Signals = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> int:
        """Send ``sig`` (graceful shutdown) and return the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.kill()


def is_running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _environment(env: Mapping[str, str] | None) -> dict[str, str]:
    base = {name: value for name, value in os.environ.items() if not name.startswith("RIVETQ_")}
    # A small disk-space reserve: each data dir would otherwise hold a 128 MiB RESERVE file.
    return {**base, "RIVETQ_LOGGING_FORMAT": "json", "RIVETQ_WAL_SPACE_RESERVE": "1MiB", **(env or {})}


def _workers_args(extra_args: tuple[str, ...]) -> list[str]:
    workers = os.environ.get(WORKERS_ENV)
    return ["--workers", workers] if workers and "--workers" not in extra_args else []


def spawn_server(
    directory: Path,
    *extra_args: str,
    env: Mapping[str, str] | None = None,
    data_dir: Path | None = None,
    grpc: bool = True,
    tls: tuple[Path, Path] | None = None,
    http_port: int | None = None,
    program: str | None = None,
) -> tuple[subprocess.Popen[bytes], Path, str, str | None]:
    """Start ``rivetqd`` (or ``program``, another installation's) without waiting for it
    (for tests of failing startups): returns (process, log path, url, grpc target).
    ``tls`` = (cert file, key file)."""
    directory.mkdir(parents=True, exist_ok=True)
    http_port = http_port or free_port()
    grpc_target = f"127.0.0.1:{free_port()}" if grpc else None
    args = [
        program or rivetqd_path(),
        "--http-addr",
        f"127.0.0.1:{http_port}",
        "--grpc-addr",
        grpc_target or "",
        "--data-dir",
        str(data_dir or directory / "data"),
        *_workers_args(extra_args),
        *extra_args,
    ]
    if tls is not None:
        tls_env = {"RIVETQ_SERVER_TLS_CERT_FILE": str(tls[0]), "RIVETQ_SERVER_TLS_KEY_FILE": str(tls[1])}
        env = {**(env or {}), **tls_env}
    log_path = directory / "rivetqd.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            args, cwd=directory, env=_environment(env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    scheme = "https" if tls is not None else "http"
    return process, log_path, f"{scheme}://127.0.0.1:{http_port}", grpc_target


def wait_ready(
    process: subprocess.Popen[bytes],
    url: str,
    log_path: Path,
    timeout: float = READY_TIMEOUT_S,
    verify: ssl.SSLContext | bool = True,
) -> None:
    """Poll ``/readyz`` until 200; fail with the server's output if it exits or hangs."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0, verify=verify) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"rivetqd exited with {process.returncode}:\n{log_path.read_text()}")
            with contextlib.suppress(httpx.TransportError):
                if http.get(f"{url}/readyz").status_code == 200:
                    return
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"rivetqd not ready after {timeout} s:\n{log_path.read_text()}")


def start_server(
    directory: Path,
    *extra_args: str,
    env: Mapping[str, str] | None = None,
    data_dir: Path | None = None,
    grpc: bool = True,
    token: str | None = None,
    tls: tuple[Path, Path] | None = None,
    http_port: int | None = None,
    program: str | None = None,
) -> RunningServer:
    """Start ``rivetqd`` (or ``program``) in ``directory`` (data in ``data_dir``, default ``directory/data``)
    with ``extra_args`` after the address flags, and wait until it is ready. With
    ``token``, the server requires it (``RIVETQ_AUTH_TOKENS``) and ``server.client()``
    sends it. With ``tls`` = (cert file, key file) it serves HTTPS (and gRPC over TLS),
    and ``server.client()`` trusts that certificate."""
    env = {**(env or {}), **({"RIVETQ_AUTH_TOKENS": token} if token else {})}
    process, log_path, url, grpc_target = spawn_server(
        directory,
        *extra_args,
        env=env,
        data_dir=data_dir,
        grpc=grpc,
        tls=tls,
        http_port=http_port,
        program=program,
    )
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(tls[0])) if tls is not None else True
    try:
        wait_ready(process, url, log_path, verify=verify)
    except BaseException:
        if process.poll() is None:
            process.kill()
            process.wait(STOP_TIMEOUT_S)
        raise
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return RunningServer(process, url, grpc_target, data_dir or directory / "data", log_path, token, headers, verify)


class ServerFactory:
    """Starts servers in numbered directories under one temp dir and kills them all at
    the end of the test."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._started: list[RunningServer] = []

    def start(
        self,
        *extra_args: str,
        env: Mapping[str, str] | None = None,
        data_dir: Path | None = None,
        grpc: bool = True,
        token: str | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> RunningServer:
        directory = self._root / f"server{len(self._started)}"
        server = start_server(directory, *extra_args, env=env, data_dir=data_dir, grpc=grpc, token=token, tls=tls)
        self._started.append(server)
        return server

    def kill_all(self) -> None:
        for server in self._started:
            server.kill()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[ServerFactory]:
    factory = ServerFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.kill_all()
