"""OpenAPI document, offline docs page, the UI mount and the /debug/ endpoints."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.server.conftest import ApiClient, ClientFactory, settings_with

SPEC_OPERATIONS = {
    ("post", "/v1/queues/{queue}/enqueue"), ("post", "/v1/queues/{queue}/enqueue_batch"),
    ("post", "/v1/queues/{queue}/lease"), ("post", "/v1/ack"), ("post", "/v1/ack_batch"), ("post", "/v1/nack"),
    ("post", "/v1/extend"), ("get", "/v1/jobs/{job_id}"), ("delete", "/v1/jobs/{job_id}"), ("get", "/v1/queues"),
    ("get", "/v1/queues/{queue}/stats"), ("get", "/v1/queues/{queue}/jobs"),
    ("post", "/v1/queues/{queue}/rate_limit"), ("get", "/v1/queues/{queue}/rate_limit"),
    ("delete", "/v1/queues/{queue}/rate_limit"), ("post", "/v1/queues/{queue}/pause"),
    ("post", "/v1/queues/{queue}/resume"), ("delete", "/v1/queues/{queue}"), ("get", "/v1/queues/{queue}/dlq"),
    ("post", "/v1/queues/{queue}/dlq/requeue"), ("delete", "/v1/queues/{queue}/dlq"),
    # SPEC §1 makes the retry backoff settable per queue: these routes are how.
    ("post", "/v1/queues/{queue}/retry_policy"), ("get", "/v1/queues/{queue}/retry_policy"),
    ("delete", "/v1/queues/{queue}/retry_policy"),
    # SPEC §3: "a way to remove the queue entirely (config, limits, series) exists too".
    ("post", "/v1/queues/{queue}/delete"),
    # SPEC §3 wave 2: "a per-queue concurrency limit (max jobs in flight, set and read like the rate limit)".
    ("post", "/v1/queues/{queue}/concurrency_limit"), ("get", "/v1/queues/{queue}/concurrency_limit"),
    ("delete", "/v1/queues/{queue}/concurrency_limit"),
    # SPEC §3 wave 2: schedules.
    ("get", "/v1/schedules"), ("put", "/v1/schedules/{name}"), ("get", "/v1/schedules/{name}"),
    ("delete", "/v1/schedules/{name}"), ("post", "/v1/schedules/{name}/pause"),
    ("post", "/v1/schedules/{name}/resume"), ("post", "/v1/schedules/{name}/run"),
    # Issue 21: online backups (the embedded engine's; docs/backup.md).
    ("post", "/v1/admin/backup"),
}  # fmt: skip


async def test_openapi_documents_every_operation_of_the_spec(client: ApiClient) -> None:
    document = (await client.get("/openapi.json")).json()
    documented = {(method, path) for path, item in document["paths"].items() for method in item}
    assert documented == SPEC_OPERATIONS
    operation_ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))


async def test_openapi_states_the_limits_and_formats_the_server_holds_to(client: ApiClient) -> None:
    """A generated client must not be told it may send what the server refuses."""
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    job = schemas["JobView"]["properties"]
    assert set(job["state"]["enum"]) == {"delayed", "ready", "inflight", "dead"}
    assert job["created_at"]["format"] == job["eta"]["format"] == "date-time"
    assert schemas["RateLimitBody"]["properties"]["capacity"]["minimum"] == 1
    assert schemas["RateLimitBody"]["properties"]["refill_rate"]["minimum"] == 1e-9
    enqueue = schemas["EnqueueRequest"]["properties"]
    assert enqueue["delay_ms"]["anyOf"][0]["maximum"] == 315_360_000_000
    assert enqueue["run_at"]["anyOf"][0]["format"] == "date-time"


@pytest.mark.parametrize("action", ["pause", "resume"])
async def test_a_post_without_fields_documents_the_json_body_it_needs(client: ApiClient, action: str) -> None:
    """A client generated from the document must send a JSON content type, as every POST needs."""
    document = (await client.get("/openapi.json")).json()
    body = document["paths"][f"/v1/queues/{{queue}}/{action}"]["post"]["requestBody"]
    assert body["required"] and body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/EmptyRequest"
    }
    empty = document["components"]["schemas"]["EmptyRequest"]
    assert (empty["properties"], empty["additionalProperties"]) == ({}, False)
    assert (await client.post(f"/v1/queues/q/{action}", json={})).status_code == 200


@pytest.mark.parametrize("action", ["pause", "resume"])
@pytest.mark.parametrize(
    ("body", "field"), [(b"not json", None), (b'{"paused": true}', "paused"), (b"[]", None), (b"null", None)]
)
async def test_pause_and_resume_refuse_a_body_that_is_not_the_empty_object(
    client: ApiClient, action: str, body: bytes, field: str | None
) -> None:
    response = await client.post(f"/v1/queues/q/{action}", content=body)
    assert (response.status_code, response.json()["error"].get("field")) == (400, field)
    assert (await client.get("/v1/queues")).json()["queues"] == [], "the refused call paused the queue"


@pytest.mark.parametrize("action", ["pause", "resume", "run"])
@pytest.mark.parametrize(("body", "field"), [(b"not json", None), (b'{"x": 1}', "x")])
async def test_schedule_actions_refuse_a_body_that_is_not_the_empty_object(
    client: ApiClient, action: str, body: bytes, field: str | None
) -> None:
    await client.put("/v1/schedules/s", json={"queue": "q", "interval_ms": 60000, "payload": {}})
    response = await client.post(f"/v1/schedules/s/{action}", content=body)
    assert (response.status_code, response.json()["error"].get("field")) == (400, field)
    assert (await client.post(f"/v1/schedules/s/{action}", json={})).status_code in (200, 201)


async def test_openapi_schemas_are_the_wire_types(client: ApiClient) -> None:
    document = (await client.get("/openapi.json")).json()
    enqueue = document["paths"]["/v1/queues/{queue}/enqueue"]["post"]
    assert enqueue["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/EnqueueRequest"
    }
    assert set(enqueue["responses"]) == {"201", "200", "default"}
    priority = document["components"]["schemas"]["EnqueueRequest"]["properties"]["priority"]
    assert (priority["minimum"], priority["maximum"], priority["default"]) == (0, 9, 5)


async def test_docs_page_loads_swagger_ui_from_this_server(client: ApiClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "/docs/static/swagger-ui-bundle.js" in page.text and "/openapi.json" in page.text
    assert "//cdn" not in page.text and "unpkg" not in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert (await client.get(f"/docs/static/{asset}")).status_code == 200
    for stock in ("index.html", "swagger-initializer.js", "swagger-editor.js"):  # a demo page that calls out
        assert (await client.get(f"/docs/static/{stock}")).status_code == 404


async def test_root_redirects_to_the_ui(client: ApiClient) -> None:
    response = await client.get("/", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (307, "/ui/")


async def test_ui_without_a_build_says_to_run_make_ui(client: ApiClient) -> None:
    response = await client.get("/ui/")
    assert response.status_code == 404
    assert "make ui" in response.text


async def test_ui_serves_the_static_export(make_client: ClientFactory, tmp_path: Path) -> None:
    static = tmp_path / "ui_static"
    (static / "queues").mkdir(parents=True)
    (static / "index.html").write_text("<h1>RivetQ overview</h1>")
    (static / "queues" / "index.html").write_text("<h1>queues</h1>")
    client = await make_client(ui_static_dir=static)
    assert "RivetQ overview" in (await client.get("/ui/")).text
    assert "queues" in (await client.get("/ui/queues/")).text
    assert (await client.get("/ui", follow_redirects=True)).status_code == 200


@pytest.mark.parametrize("path", ["/ui/", "/ui/queues/", "/docs"])
async def test_pages_cannot_be_framed_by_other_sites(make_client: ClientFactory, tmp_path: Path, path: str) -> None:
    (tmp_path / "queues").mkdir()
    (tmp_path / "index.html").write_text("<h1>RivetQ overview</h1>")
    (tmp_path / "queues" / "index.html").write_text("<h1>queues</h1>")
    response = await (await make_client(ui_static_dir=tmp_path)).get(path)
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert (response.headers["x-frame-options"], response.headers["x-content-type-options"]) == ("DENY", "nosniff")


async def test_debug_endpoints_are_off_by_default(client: ApiClient) -> None:
    assert (await client.get("/debug/stacks")).status_code == 404


async def test_debug_endpoints_dump_stacks_and_allocations_when_enabled(make_client: ClientFactory) -> None:
    client = await make_client(settings_with(**{"server.debug_endpoints": True}))
    stacks = await client.get("/debug/stacks")
    assert stacks.status_code == 200 and "--- thread" in stacks.text and "--- task" in stacks.text
    assert "tracemalloc is off" in (await client.get("/debug/tracemalloc")).text  # a GET changes nothing
    started = await client.post("/debug/tracemalloc")
    assert "tracemalloc is tracing" in started.text
    try:
        summary = await client.get("/debug/tracemalloc")
        assert summary.text.startswith("traced:")
    finally:
        import tracemalloc

        tracemalloc.stop()


async def test_debug_endpoints_need_the_token_when_auth_is_on(make_client: ClientFactory) -> None:
    client = await make_client(settings_with(**{"server.debug_endpoints": True, "auth.tokens": ["t"]}))
    assert (await client.get("/debug/stacks")).status_code == 401
