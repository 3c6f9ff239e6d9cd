"""POST /v1/queues/{queue}/delete: the queue goes entirely, its /metrics series too;
409 while jobs are inflight unless forced; 404 for a queue that does not exist."""

from __future__ import annotations

from tests.server.conftest import ApiClient, enqueue, lease_one


async def _metric_lines(client: ApiClient, queue: str) -> list[str]:
    text = (await client.get("/metrics")).text
    return [line for line in text.splitlines() if f'queue="{queue}"' in line]


async def test_delete_removes_the_queue_its_settings_and_its_series(client: ApiClient) -> None:
    for _ in range(2):
        await enqueue(client, "typo")
    await lease_one(client, "typo")  # a series for every counter kind below
    await client.post("/v1/queues/typo/rate_limit", json={"capacity": 5, "refill_rate": 1})
    await enqueue(client, "kept")
    assert await _metric_lines(client, "typo")
    refused = await client.post("/v1/queues/typo/delete", json={})
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "state_conflict")
    assert "inflight" in refused.json()["error"]["message"]
    response = await client.post("/v1/queues/typo/delete", json={"force": True})
    assert (response.status_code, response.json()) == (200, {"queue": "typo", "deleted_jobs": 2})
    assert (await client.get("/v1/queues")).json()["queues"] == ["kept"]
    assert (await client.get("/v1/queues/typo/stats")).status_code == 404
    assert (await client.get("/v1/queues/typo/rate_limit")).json()["exists"] is False
    assert await _metric_lines(client, "typo") == []
    assert await _metric_lines(client, "kept")


async def test_delete_without_inflight_jobs_needs_no_body(client: ApiClient) -> None:
    await enqueue(client, "idle")
    response = await client.post("/v1/queues/idle/delete")
    assert (response.status_code, response.json()["deleted_jobs"]) == (200, 1)


async def test_delete_of_an_unknown_queue_is_404(client: ApiClient) -> None:
    response = await client.post("/v1/queues/never-seen/delete", json={})
    assert (response.status_code, response.json()["error"]["code"]) == (404, "queue_not_found")


async def test_delete_with_a_bad_force_names_the_field(client: ApiClient) -> None:
    response = await client.post("/v1/queues/q/delete", json={"force": "yes"})
    assert (response.status_code, response.json()["error"]["field"]) == (400, "force")
