"""Transport behaviour against real sockets: auth tokens, retries only of calls that are
safe to repeat, connection errors inside the error tree, connection reuse."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import rivetq
from tests.client.support import make_client, memory_server, new_queue
from tests.e2e.server import free_port

RETRIES = 2


class HangUpServer:
    """A real TCP listener that accepts each connection and closes it at once,
    counting the connections (the server-side view of the client's attempts)."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self.connections = 0
        self._sock.settimeout(0.05)  # so that close() is noticed
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with conn:
                conn.recv(65536)

    def close(self) -> None:
        self._closed.set()
        self._thread.join()
        self._sock.close()


@pytest.fixture
def hang_up() -> Iterator[HangUpServer]:
    server = HangUpServer()
    yield server
    server.close()


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _client(kind: str, url: str, **kwargs: Any) -> Any:
    return make_client(kind, url, retries=RETRIES, backoff_s=0.001, **kwargs)


@pytest.mark.parametrize(
    ("call", "attempts"),
    [
        (lambda c: c.stats("q"), RETRIES + 1),
        (lambda c: c.extend("j", "l", 1000), RETRIES + 1),
        (lambda c: c.enqueue("q", 1, idempotency_key="k"), RETRIES + 1),
        (lambda c: c.enqueue("q", 1), 1),
        (lambda c: c.lease("q"), 1),
        (lambda c: c.ack("j", "l"), 1),
    ],
    ids=["get", "extend", "enqueue-with-key", "enqueue", "lease", "ack"],
)
def test_transport_retries_only_calls_safe_to_repeat(
    hang_up: HangUpServer, kind: str, call: Any, attempts: int
) -> None:
    client = _client(kind, hang_up.url)
    try:
        with pytest.raises(rivetq.ConnectionFailed) as failed:
            call(client)
    finally:
        client.close()
    assert isinstance(failed.value, ConnectionError) and failed.value.code == "connection_failed"
    assert f"the RivetQ server at {hang_up.url} (" in str(failed.value)
    assert hang_up.connections == attempts


def test_transport_refused_connection_names_the_server(kind: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    client = _client(kind, url + "/")
    try:
        with pytest.raises(rivetq.ConnectionFailed) as failed:
            client.ack("j", "l")
    finally:
        client.close()
    assert str(failed.value).startswith(f"cannot connect to the RivetQ server at {url} (POST /v1/ack): ")


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with memory_server(tmp_path_factory.mktemp("secured"), token="s3cret-token") as running:
        yield running


def test_transport_sends_the_bearer_token(secured: Any, kind: str) -> None:
    queue = new_queue()
    anonymous, wrong, right = (_client(kind, secured.url, token=t) for t in (None, "nope", "s3cret-token"))
    try:
        for client in (anonymous, wrong):
            with pytest.raises(rivetq.Unauthenticated) as denied:
                client.enqueue(queue, 1)
            assert denied.value.code == "unauthenticated"
        assert right.enqueue(queue, 1)
        assert right.stats(queue).ready == 1
    finally:
        for client in (anonymous, wrong, right):
            client.close()


def test_transport_reuses_one_connection(secured: Any) -> None:
    with rivetq.Client(secured.url, token="s3cret-token") as client:
        queue = new_queue()
        for n in range(5):
            client.enqueue(queue, n)
        assert client.stats(queue).enqueued_total == 5
        pool = client._http._transport._pool  # type: ignore[attr-defined]
        assert len(pool.connections) == 1
