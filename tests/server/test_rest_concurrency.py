"""/v1/queues/{queue}/concurrency_limit: set, read and removed like the rate limit; a
lease beyond it returns fewer jobs."""

from __future__ import annotations

from tests.server.conftest import ApiClient, enqueue


async def test_concurrency_limit_caps_jobs_in_flight(client: ApiClient) -> None:
    for _ in range(4):
        await enqueue(client)
    set_ = await client.post("/v1/queues/emails/concurrency_limit", json={"max_inflight": 2})
    assert (set_.status_code, set_.json()) == (200, {"max_inflight": 2, "exists": True})
    assert (await client.get("/v1/queues/emails/concurrency_limit")).json() == {"max_inflight": 2, "exists": True}
    leased = (await client.post("/v1/queues/emails/lease", json={"max_jobs": 10})).json()["jobs"]
    assert len(leased) == 2
    assert (await client.post("/v1/queues/emails/lease", json={"max_jobs": 10})).json() == {"jobs": []}
    stats = (await client.get("/v1/queues/emails/stats")).json()
    assert (stats["inflight"], stats["concurrency_limit"]) == (2, {"max_inflight": 2, "exists": True})
    await client.post("/v1/ack", json={"job_id": leased[0]["id"], "lease_id": leased[0]["lease_id"]})
    assert len((await client.post("/v1/queues/emails/lease", json={"max_jobs": 10})).json()["jobs"]) == 1
    assert (await client.delete("/v1/queues/emails/concurrency_limit")).json() == {"success": True}
    none = {"max_inflight": 0, "exists": False}  # stats show "no limit" as GET does
    assert (await client.get("/v1/queues/emails/concurrency_limit")).json() == none
    assert (await client.get("/v1/queues/emails/stats")).json()["concurrency_limit"] == none


async def test_concurrency_limit_out_of_range_is_400_naming_the_field(client: ApiClient) -> None:
    for bad in (0, 1_000_001, "3"):
        response = await client.post("/v1/queues/emails/concurrency_limit", json={"max_inflight": bad})
        assert (response.status_code, response.json()["error"]["field"]) == (400, "max_inflight")
