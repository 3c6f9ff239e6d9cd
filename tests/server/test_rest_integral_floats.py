"""Integer fields take integral floats (``30000.0``, ``3e1``), as JSON Schema's ``integer``
does and some generated clients send; strings and fractions are still refused."""

from __future__ import annotations

import pytest

from tests.server.conftest import ApiClient


async def test_an_enqueue_with_integral_floats_keeps_its_payload_byte_for_byte(client: ApiClient) -> None:
    body = b'{"payload": {"n": 1.0, "m": [2.50, 3e0]}, "priority": 7.0, "max_retries": 1E1, "delay_ms": 5e3}'
    response = await client.post("/v1/queues/emails/enqueue", content=body)
    assert response.status_code == 201, response.text
    job = await client.get(f"/v1/jobs/{response.json()['job_id']}")
    assert b'"payload":{"n": 1.0, "m": [2.50, 3e0]}' in job.content
    assert (job.json()["priority"], job.json()["max_retries"], job.json()["state"]) == (7, 10, "delayed")


async def test_a_batch_and_a_lease_take_integral_floats_in_nested_and_optional_fields(client: ApiClient) -> None:
    body = b'{"jobs": [{"payload": 1}, {"payload": 2.0, "priority": 9.0, "delay_ms": null}]}'
    assert (await client.post("/v1/queues/emails/enqueue_batch", content=body)).status_code == 201
    leased = await client.post("/v1/queues/emails/lease", content=b'{"max_jobs": 2.0, "visibility_ms": 30000.0}')
    assert [job["payload"] for job in leased.json()["jobs"]] == [2.0, 1]


async def test_a_retry_policy_takes_integral_floats(client: ApiClient) -> None:
    body = b'{"base_backoff_ms": 1000.0, "max_backoff_ms": 6e4}'
    response = await client.post("/v1/queues/emails/retry_policy", content=body)
    assert (response.json()["base_backoff_ms"], response.json()["max_backoff_ms"]) == (1000, 60_000)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"payload": 1, "priority": 5.5}', "priority"),
        (b'{"payload": 1, "priority": "5"}', "priority"),
        (b'{"payload": 1, "priority": "5.0"}', "priority"),
        (b'{"payload": 1, "priority": 10.0}', "priority"),
        (b'{"payload": 1, "max_retries": 1e400}', "max_retries"),
        (b'{"payload": 1, "delay_ms": -1.0}', "delay_ms"),
        (b'{"payload": 1, "priority": 5.0, "max_retries": 2.5}', "max_retries"),
    ],
)
async def test_strings_fractions_and_out_of_range_floats_are_still_refused(
    client: ApiClient, body: bytes, field: str
) -> None:
    response = await client.post("/v1/queues/emails/enqueue", content=body)
    assert (response.status_code, response.json()["error"]["field"]) == (400, field)


async def test_a_batch_with_a_fractional_float_names_the_job(client: ApiClient) -> None:
    body = b'{"jobs": [{"payload": 1, "priority": 1.0}, {"payload": 2, "priority": 1.5}]}'
    response = await client.post("/v1/queues/emails/enqueue_batch", content=body)
    assert (response.status_code, response.json()["error"]["field"]) == (400, "jobs[1].priority")


async def test_openapi_says_integer_fields_take_integral_floats(client: ApiClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert "30000.0" in document["info"]["description"]
    priority = document["components"]["schemas"]["EnqueueRequest"]["properties"]["priority"]
    assert priority["type"] == "integer"
