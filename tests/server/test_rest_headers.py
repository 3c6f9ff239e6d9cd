"""Job headers over REST: accepted on enqueue and batches, returned by lease, lookup and
listings, refused with 400 naming the field when over their bounds."""

from __future__ import annotations

import pytest

from rivetq import wire
from tests.server.conftest import ApiClient, enqueue, lease_one

TRACE = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}


async def test_headers_come_back_from_lease_lookup_and_listing(client: ApiClient) -> None:
    job_id = await enqueue(client, headers=TRACE)
    assert (await client.get(f"/v1/jobs/{job_id}")).json()["headers"] == TRACE
    listed = (await client.get("/v1/queues/emails/jobs")).json()["jobs"]
    assert [job["headers"] for job in listed] == [TRACE]
    assert (await lease_one(client))["headers"] == TRACE


async def test_a_job_without_headers_shows_an_empty_object(client: ApiClient) -> None:
    job_id = await enqueue(client)
    assert (await client.get(f"/v1/jobs/{job_id}")).json()["headers"] == {}
    assert (await lease_one(client))["headers"] == {}


async def test_batch_jobs_carry_their_own_headers(client: ApiClient) -> None:
    jobs = [{"payload": 1, "headers": {"n": "1"}}, {"payload": 2}]
    response = await client.post("/v1/queues/emails/enqueue_batch", json={"jobs": jobs})
    assert response.status_code == 201
    leased = (await client.post("/v1/queues/emails/lease", json={"max_jobs": 2})).json()["jobs"]
    assert [job["headers"] for job in leased] == [{"n": "1"}, {}]


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ({f"h{i}": "v" for i in range(wire.MAX_HEADERS + 1)}, "headers"),
        ({"big": "v" * (wire.MAX_HEADER_VALUE + 1)}, "headers.big"),
        ({"": "v"}, "headers"),
        ({"n": 1}, "headers[...]"),
        (["not", "an", "object"], "headers"),
    ],
)
async def test_headers_over_their_bounds_answer_400_naming_the_field(
    client: ApiClient, headers: object, field: str
) -> None:
    response = await client.post("/v1/queues/emails/enqueue", json={"payload": 1, "headers": headers})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalid_argument", field)
    assert "headers" in error["message"]


async def test_a_bad_header_in_a_batch_names_the_job(client: ApiClient) -> None:
    jobs = [{"payload": 1}, {"payload": 2, "headers": {"": "x"}}]
    response = await client.post("/v1/queues/emails/enqueue_batch", json={"jobs": jobs})
    assert (response.status_code, response.json()["error"]["field"]) == (400, "jobs[1].headers")
