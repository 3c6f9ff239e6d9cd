"""Pure parts of the SDK: error mapping, the retry rule, request building, the
public API and what importing the SDK loads."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
import pytest

import rivetq
from rivetq.client import _calls
from rivetq.client._base import Call, error_from_response, may_retry
from rivetq.client.client import AsyncClient, Client


def _error_json(code: str, message: str, field: str | None = None) -> bytes:
    return msgspec.json.encode({"error": {"code": code, "message": message, **({"field": field} if field else {})}})


def test_error_from_response_uses_the_servers_code() -> None:
    error = error_from_response(409, _error_json("lease_lost", "lease expired"))
    assert isinstance(error, rivetq.LeaseLost)
    assert (error.code, error.message, error.field) == ("lease_lost", "lease expired", None)


def test_error_from_response_names_the_invalid_field() -> None:
    body = _error_json("invalid_argument", "Expected `int` <= 9 - at `$.jobs[1].priority`", "jobs[1].priority")
    error = error_from_response(400, body)
    assert isinstance(error, rivetq.InvalidArgument)
    assert error.field == "jobs[1].priority"


def test_error_from_response_keeps_codes_without_a_class() -> None:
    error = error_from_response(404, _error_json("not_found", "no route"))
    assert type(error) is rivetq.RivetQError and error.code == "not_found"


@pytest.mark.parametrize("status", [502, 503, 504])
def test_error_from_response_maps_a_proxys_page_by_status(status: int) -> None:
    error = error_from_response(status, b"<html>Service Unavailable</html>")
    assert isinstance(error, rivetq.StorageUnavailable)
    assert str(status) in error.message and "Service Unavailable" in error.message


def _request() -> httpx.Request:
    return httpx.Request("GET", "http://127.0.0.1/")


@pytest.mark.parametrize(
    ("error", "retry_safe", "expected"),
    [
        (httpx.ConnectError("refused"), False, True),
        (httpx.ConnectTimeout("slow"), False, True),
        (httpx.RemoteProtocolError("hung up"), False, False),
        (httpx.RemoteProtocolError("hung up"), True, True),
        (httpx.ReadTimeout("slow"), True, True),
        (httpx.ReadTimeout("slow"), False, False),
    ],
)
def test_may_retry_only_what_is_safe(error: httpx.TransportError, retry_safe: bool, expected: bool) -> None:
    call = Call("POST", "/x", lambda body: None, retry_safe=retry_safe)
    assert may_retry(call, error, attempt=0, retries=3) is expected
    assert may_retry(call, error, attempt=3, retries=3) is False


def test_enqueue_call_sends_only_what_differs_from_the_defaults() -> None:
    call = _calls.enqueue("emails", {"to": "a"}, run_at=datetime(2030, 1, 2, 3, 4, 5, 6000, tzinfo=UTC))
    assert call.path == "/v1/queues/emails/enqueue" and not call.retry_safe
    assert msgspec.json.decode(call.body or b"") == {"payload": {"to": "a"}, "run_at": "2030-01-02T03:04:05.006Z"}


def test_lease_call_waits_longer_than_its_long_poll() -> None:
    assert _calls.lease("q", wait_ms=2_500).extra_timeout_s == 2.5


def test_both_clients_expose_every_operation() -> None:
    for client_class in (Client, AsyncClient):
        assert {name for name in _calls.__all__ if hasattr(client_class, name)} == set(_calls.__all__)


def test_public_api_is_sorted_and_resolves() -> None:
    assert rivetq.__all__ == sorted(rivetq.__all__)
    for name in rivetq.__all__:
        assert getattr(rivetq, name) is not None
    with pytest.raises(AttributeError):
        rivetq.NoSuchThing  # noqa: B018


def test_importing_the_sdk_loads_no_server_dependency() -> None:
    code = (
        "import sys, rivetq, rivetq.cli.rivetqctl; from rivetq import Client, AsyncClient, Worker, AsyncWorker;"
        "server = ('starlette', 'uvicorn', 'lmdb', 'structlog', 'prometheus_client', 'grpc', 'yaml', 'psycopg');"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in server or m.startswith('rivetq.server')"
        " or m.startswith('rivetq.storage') or m == 'rivetq.manager'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_importing_rivetq_errors_does_not_load_httpx() -> None:
    code = "import sys, rivetq.errors, rivetq.cli.rivetqctl; print('httpx' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("build", [_calls.ack, lambda job, lease: _calls.extend(job, lease, 1_000), _calls.nack])
def test_lease_calls_refuse_a_job_without_a_lease(build: Any) -> None:
    with pytest.raises(rivetq.InvalidArgument) as refused:
        build("job-1", None)
    assert refused.value.field == "lease_id"
