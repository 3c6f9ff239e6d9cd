"""A real S3 endpoint for tests: moto's standalone server (``moto_server``) in a
subprocess, behind a TCP proxy the test can switch off and on to make the bucket go away
without losing what it holds (moto keeps its data in memory)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx

from tests.e2e.server import free_port

__all__ = ["Bucket", "Switch", "moto_bucket"]

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
_READY_TIMEOUT_S = 30


class Switch:
    """A TCP proxy to ``upstream``; ``off()`` closes every connection and refuses new
    ones (accepted and closed at once) until ``on()``."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self._upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open = True
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def off(self) -> None:
        with self._lock:
            self._open = False
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            self._connections.clear()

    def on(self) -> None:
        with self._lock:
            self._open = True

    def close(self) -> None:
        self.off()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if not self._open:
                    client.close()
                    continue
                upstream = socket.create_connection(self._upstream)
                self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@dataclass
class Bucket:
    name: str
    endpoint: str  # through the switch
    switch: Switch

    def url(self, prefix: str) -> str:
        return f"s3://{self.name}/{prefix}"

    def server_env(self) -> dict[str, str]:
        """What a rivetqd (or rivetqctl) needs to reach the bucket."""
        return {**CREDENTIALS, "RIVETQ_BACKUP_ENDPOINT": self.endpoint}

    def keys(self, prefix: str) -> list[str]:
        client = boto3.client("s3", endpoint_url=self.endpoint, **_boto_credentials())
        listed = client.list_objects_v2(Bucket=self.name, Prefix=prefix)
        return [item["Key"] for item in listed.get("Contents", ())]


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "region_name": CREDENTIALS["AWS_DEFAULT_REGION"],
    }


def _moto_server_path() -> str:
    return str(Path(sys.executable).parent / "moto_server")


@contextlib.contextmanager
def moto_bucket(log_dir: Path) -> Iterator[Bucket]:
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "moto.log").open("ab") as log:
        process = subprocess.Popen(
            [_moto_server_path(), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **CREDENTIALS},
            start_new_session=True,
        )
    switch = Switch(("127.0.0.1", port))
    try:
        _wait_for(f"http://127.0.0.1:{port}/", process)
        endpoint = f"http://127.0.0.1:{switch.port}"
        boto3.client("s3", endpoint_url=endpoint, **_boto_credentials()).create_bucket(Bucket="rivetq-backups")
        yield Bucket("rivetq-backups", endpoint, switch)
    finally:
        switch.close()
        process.kill()
        process.wait()


def _wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode}")
        with contextlib.suppress(httpx.TransportError):
            httpx.get(url, timeout=1.0)
            return
        time.sleep(0.1)
    raise RuntimeError(f"moto_server did not answer at {url}")
