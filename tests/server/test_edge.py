"""The HTTP edge around the routes: auth, protected mode, content type, body limits,
CORS and the error shape of unknown routes."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from rivetq.server.rest.auth import FOREIGN_HOST_MESSAGE, PROTECTED_MODE_MESSAGE
from tests.server.conftest import ApiClient, ClientFactory, settings_with

REMOTE_CLIENT = ("203.0.113.7", 40_000)
TOKENS = {"auth.tokens": ["tok-one", "tok-two"]}


async def test_with_tokens_a_call_without_one_is_a_401_with_a_bearer_challenge(make_client: ClientFactory) -> None:
    client = await make_client(settings_with(**TOKENS))
    response = await client.get("/v1/queues")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize("header", ["Bearer wrong", "Bearer tok-one-and-more", "Basic tok-one", "tok-one", "Bearer "])
async def test_with_tokens_a_wrong_token_is_a_401(make_client: ClientFactory, header: str) -> None:
    client = await make_client(settings_with(**TOKENS))
    assert (await client.get("/v1/queues", headers={"Authorization": header})).status_code == 401


@pytest.mark.parametrize("token", ["tok-one", "tok-two"])
async def test_with_tokens_any_configured_token_is_accepted(make_client: ClientFactory, token: str) -> None:
    client = await make_client(settings_with(**TOKENS))
    response = await client.get("/v1/queues", headers={"Authorization": f"bearer {token}"})
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"])
async def test_with_tokens_health_metrics_and_docs_stay_open(make_client: ClientFactory, path: str) -> None:
    client = await make_client(settings_with(**TOKENS))
    assert (await client.get(path)).status_code == 200


async def test_protected_mode_answers_remote_clients_403_explaining_the_fix(make_client: ClientFactory) -> None:
    client = await make_client(settings_with(**{"server.http_addr": "0.0.0.0:8080"}), client=REMOTE_CLIENT)
    response = await client.get("/v1/queues")
    assert response.status_code == 403
    assert response.json()["error"]["message"] == PROTECTED_MODE_MESSAGE
    assert "auth.tokens" in PROTECTED_MODE_MESSAGE and "auth.protected_mode: false" in PROTECTED_MODE_MESSAGE
    assert (await client.get("/healthz")).status_code == 200


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("localhost:8080", True),
        ("127.0.0.1:8080", True),
        ("[::1]:8080", True),
        ("10.1.2.3", True),
        ("app.localhost:8080", True),
        (socket.gethostname(), True),
        ("attacker.example:8080", False),
        ("ATTACKER.example", False),
    ],
)
async def test_without_tokens_a_loopback_call_must_name_this_machine(
    make_client: ClientFactory, host: str, allowed: bool
) -> None:
    """A page re-pointed at 127.0.0.1 by DNS rebinding sends its own name as Host."""
    client = await make_client(settings_with(**{"server.http_addr": "127.0.0.1:8080"}))
    response = await client.post("/v1/queues/rebound/enqueue", json={"payload": 1}, headers={"Host": host})
    if allowed:
        assert response.status_code == 201
    else:
        assert (response.status_code, response.json()["error"]["message"]) == (403, FOREIGN_HOST_MESSAGE)
        assert (await client.get("/v1/queues/rebound/stats")).status_code == 404


async def test_with_tokens_or_from_afar_the_host_header_is_not_checked(make_client: ClientFactory) -> None:
    with_tokens = await make_client(settings_with(**TOKENS))
    headers = {"Host": "attacker.example", "Authorization": "Bearer tok-one"}
    assert (await with_tokens.get("/v1/queues", headers=headers)).status_code == 200
    open_mode = await make_client(
        settings_with(**{"server.http_addr": "0.0.0.0:8080", "auth.protected_mode": False}), client=REMOTE_CLIENT
    )
    assert (await open_mode.get("/v1/queues", headers={"Host": "queues.internal"})).status_code == 200


async def test_protected_mode_still_answers_loopback_clients(make_client: ClientFactory) -> None:
    client = await make_client(settings_with(**{"server.http_addr": ":8080"}))
    assert (await client.get("/v1/queues")).status_code == 200


@pytest.mark.parametrize(
    "overrides",
    [
        {"server.http_addr": "0.0.0.0:8080", "auth.protected_mode": False},
        {"server.http_addr": "127.0.0.1:8080"},
    ],
)
async def test_protected_mode_is_off_when_disabled_or_bound_to_loopback(
    make_client: ClientFactory, overrides: dict[str, object]
) -> None:
    client = await make_client(settings_with(**overrides), client=REMOTE_CLIENT)
    assert (await client.get("/v1/queues")).status_code == 200


async def test_protected_mode_gives_way_to_tokens(make_client: ClientFactory) -> None:
    client = await make_client(settings_with(**{"server.http_addr": ":8080", **TOKENS}), client=REMOTE_CLIENT)
    assert (await client.get("/v1/queues", headers={"Authorization": "Bearer tok-one"})).status_code == 200


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"])
async def test_a_write_without_json_content_type_is_a_415(make_client: ClientFactory, content_type: str | None) -> None:
    client = await make_client()
    headers = {"Content-Type": content_type} if content_type else {}
    client.headers.pop("Content-Type")
    response = await client.post("/v1/queues/q/enqueue", content=b'{"payload": 1}', headers=headers)
    assert (response.status_code, response.json()["error"]["code"]) == (415, "unsupported_media_type")
    assert (await client.post("/v1/queues/q/lease", headers={"Content-Type": "application/json"})).json() == {
        "jobs": []
    }, "the rejected enqueue created a job"


@pytest.mark.parametrize("content_type", [None, "text/plain"])
async def test_a_put_without_json_content_type_is_a_415(make_client: ClientFactory, content_type: str | None) -> None:
    client = await make_client()
    headers = {"Content-Type": content_type} if content_type else {}
    client.headers.pop("Content-Type")
    body = b'{"queue": "q", "interval_ms": 60000, "payload": {}}'
    response = await client.put("/v1/schedules/s", content=body, headers=headers)
    assert (response.status_code, response.json()["error"]["code"]) == (415, "unsupported_media_type")
    assert (await client.get("/v1/schedules")).json() == {"schedules": []}, "the rejected call made a schedule"


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("POST", "/v1/queues/q/stats", 405, {"GET", "HEAD"}),
        ("DELETE", "/v1/queues/q/stats", 405, {"GET", "HEAD"}),  # a DELETE with a body needs JSON too
        ("POST", "/v1/no/such/path", 404, {""}),
    ],
)
async def test_a_write_nothing_serves_is_a_404_or_405_whatever_its_content_type(
    client: ApiClient, method: str, path: str, status: int, allow: set[str]
) -> None:
    """The content type of a request no route would take is not its problem."""
    client.headers.pop("Content-Type")
    response = await client.request(method, path, content=b"x")
    assert (response.status_code, set(response.headers.get("allow", "").split(", "))) == (status, allow)


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/v1/queues/q/rate_limit", {"GET", "HEAD", "POST", "DELETE"}),
        ("/v1/queues/q/dlq", {"GET", "HEAD", "DELETE"}),
        ("/v1/jobs/0190a000-0000-7000-8000-000000000000", {"GET", "HEAD", "DELETE"}),
        ("/v1/queues/q/enqueue", {"POST"}),
    ],
)
async def test_a_method_a_path_lacks_is_a_405_listing_all_it_has(
    client: ApiClient, path: str, methods: set[str]
) -> None:
    client.headers.pop("Content-Type")
    response = await client.put(path)  # a PUT without a body: 405, not a 415 about its content type
    assert (response.status_code, response.json()["error"]["code"]) == (405, "method_not_allowed")
    assert set(response.headers["allow"].split(", ")) == methods


async def test_json_content_type_with_parameters_is_accepted(make_client: ClientFactory) -> None:
    client = await make_client()
    headers = {"Content-Type": "Application/JSON; charset=utf-8"}
    response = await client.post("/v1/queues/q/enqueue", content=b'{"payload": 1}', headers=headers)
    assert response.status_code == 201


async def test_a_delete_without_body_needs_no_content_type(make_client: ClientFactory) -> None:
    client = await make_client()
    client.headers.pop("Content-Type")
    assert (await client.delete("/v1/queues/q")).status_code == 200


async def test_a_payload_over_the_limit_is_a_413(make_client: ClientFactory) -> None:
    client = await make_client(settings_with(**{"limits.max_payload_bytes": 100}))
    response = await client.post("/v1/queues/q/enqueue", json={"payload": "x" * 200})
    assert (response.status_code, response.json()["error"]["code"]) == (413, "payload_too_large")
    assert (await client.post("/v1/queues/q/enqueue", json={"payload": "x" * 50})).status_code == 201


async def test_a_declared_body_over_the_limit_is_a_413_before_it_is_read(make_client: ClientFactory) -> None:
    client = await make_client(settings_with(**{"limits.max_payload_bytes": 100}))
    reads = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal reads
        reads += 1
        yield b"{}"

    headers = {"Content-Length": str(10_000_000)}
    response = await client.post("/v1/queues/q/enqueue", content=body(), headers=headers)
    assert response.status_code == 413
    assert reads == 0


async def test_a_streamed_body_over_the_limit_is_a_413(make_client: ClientFactory) -> None:
    client = await make_client(settings_with(**{"limits.max_payload_bytes": 100}))

    async def body() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"x" * 10_000

    response = await client.post("/v1/queues/q/enqueue", content=body())
    assert (response.status_code, response.json()["error"]["code"]) == (413, "payload_too_large")


async def test_cors_is_off_by_default(make_client: ClientFactory) -> None:
    client = await make_client()
    response = await client.get("/v1/queues", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers
    preflight = await client.options("/v1/ack", headers=_preflight("https://evil.example"))
    assert "access-control-allow-origin" not in preflight.headers


async def test_cors_allows_only_listed_origins(make_client: ClientFactory) -> None:
    client = await make_client(settings_with(**{"server.cors_allow_origins": ["https://ui.example"]}))
    allowed = await client.options("/v1/ack", headers=_preflight("https://ui.example"))
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://ui.example"
    refused = await client.options("/v1/ack", headers=_preflight("https://evil.example"))
    assert "access-control-allow-origin" not in refused.headers
    simple = await client.get("/v1/queues", headers={"Origin": "https://ui.example"})
    assert simple.headers["access-control-allow-origin"] == "https://ui.example"


def _preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,authorization",
    }


async def test_unknown_routes_and_methods_answer_in_the_error_shape(make_client: ClientFactory) -> None:
    client = await make_client()
    missing = await client.get("/v1/nothing-here")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    wrong_method = await client.get("/v1/ack")
    assert (wrong_method.status_code, wrong_method.json()["error"]["code"]) == (405, "method_not_allowed")


async def test_readyz_fails_while_the_server_drains(make_client: ClientFactory) -> None:
    client = await make_client()
    assert (await client.get("/readyz")).status_code == 200
    await client.runtime.drain()
    response = await client.get("/readyz")
    assert (response.status_code, response.json()["status"]) == (503, "unavailable")
    assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_drain_answers_waiting_long_polls_with_no_jobs(make_client: ClientFactory) -> None:
    client = await make_client()
    poll = asyncio.create_task(client.post("/v1/queues/q/lease", json={"wait_ms": 20_000}))
    for _ in range(10_000):  # yield to the request until it waits (no timing involved)
        if client.runtime.manager.long_polls("q"):
            break
        await asyncio.sleep(0)
    assert client.runtime.manager.long_polls("q") == 1
    await client.runtime.drain()
    response = await poll
    assert (response.status_code, response.json()) == (200, {"jobs": []})
