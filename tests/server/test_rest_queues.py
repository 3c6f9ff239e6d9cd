"""REST queue, DLQ and rate-limit routes, in process."""

from __future__ import annotations

import pytest

from rivetq.clock import FakeClock
from tests.server.conftest import ApiClient, enqueue, lease_one


async def _bury(client: ApiClient, queue: str = "emails") -> str:
    job_id = await enqueue(client, queue, max_retries=0)
    job = await lease_one(client, queue)
    await client.post("/v1/nack", json={"job_id": job["id"], "lease_id": job["lease_id"], "reason": "boom"})
    return job_id


def totals(enqueued: int = 0, leased: int = 0, acked: int = 0, nacked: int = 0) -> dict[str, int]:
    return {"enqueued_total": enqueued, "leased_total": leased, "acked_total": acked, "nacked_total": nacked}


async def test_list_queues_answers_names_and_summaries_with_and_without_trailing_slash(client: ApiClient) -> None:
    """``queues`` holds the names, as the seed's clients decode the reply; ``summaries`` the figures."""
    await enqueue(client, "b")
    await enqueue(client, "a", delay_ms=1_000)
    expected = {
        "queues": ["a", "b"],
        "summaries": [
            {"name": "a", "ready": 0, "delayed": 1, "inflight": 0, "dlq": 0, "paused": False, **totals(enqueued=1)},
            {"name": "b", "ready": 1, "delayed": 0, "inflight": 0, "dlq": 0, "paused": False, **totals(enqueued=1)},
        ],
    }
    assert (await client.get("/v1/queues")).json() == expected
    slash = await client.get("/v1/queues/")
    assert (slash.status_code, slash.json()) == (200, expected)


async def test_list_queues_carries_each_queues_totals(client: ApiClient) -> None:
    for _ in range(3):
        await enqueue(client, "t")
    done = await lease_one(client, "t")
    await client.post("/v1/ack", json={"job_id": done["id"], "lease_id": done["lease_id"]})
    failed = await lease_one(client, "t")
    await client.post("/v1/nack", json={"job_id": failed["id"], "lease_id": failed["lease_id"]})
    [queue] = (await client.get("/v1/queues")).json()["summaries"]
    assert {key: queue[key] for key in totals()} == totals(enqueued=3, leased=2, acked=1, nacked=1)


async def test_stats_show_counts_counters_and_config(client: ApiClient) -> None:
    await enqueue(client)
    await enqueue(client)
    job = await lease_one(client)
    await client.post("/v1/ack", json={"job_id": job["id"], "lease_id": job["lease_id"]})
    await client.post("/v1/queues/emails/rate_limit", json={"capacity": 10, "refill_rate": 2.5})
    stats = (await client.get("/v1/queues/emails/stats")).json()
    assert stats == {
        "queue": "emails", "ready": 1, "delayed": 0, "inflight": 0, "dlq": 0,
        "enqueued_total": 2, "leased_total": 1, "acked_total": 1, "nacked_total": 0,
        "paused": False, "rate_limit": {"capacity": 10.0, "refill_rate": 2.5, "exists": True},
        "concurrency_limit": {"max_inflight": 0, "exists": False},
    }  # fmt: skip


async def test_stats_of_a_queue_that_never_existed_is_a_404(client: ApiClient) -> None:
    response = await client.get("/v1/queues/nothing/stats")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "queue_not_found")


async def test_job_browser_pages_with_a_cursor_and_filters_by_state(client: ApiClient) -> None:
    ids = [await enqueue(client) for _ in range(5)]
    await enqueue(client, delay_ms=60_000)
    first = (await client.get("/v1/queues/emails/jobs", params={"state": "ready", "limit": 3})).json()
    assert [job["id"] for job in first["jobs"]] == ids[:3]
    assert first["next_cursor"]
    params = {"state": "ready", "limit": 3, "cursor": first["next_cursor"]}
    second = (await client.get("/v1/queues/emails/jobs", params=params)).json()
    assert [job["id"] for job in second["jobs"]] == ids[3:]
    assert second["next_cursor"] is None
    delayed = (await client.get("/v1/queues/emails/jobs", params={"state": "delayed"})).json()["jobs"]
    assert [job["state"] for job in delayed] == ["delayed"]


async def test_job_browser_rejects_a_bad_limit_or_state_naming_the_parameter(client: ApiClient) -> None:
    for params, name in (({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"), ({"state": "done"}, "state")):
        response = await client.get("/v1/queues/emails/jobs", params=params)
        assert response.status_code == 400
        assert response.json()["error"]["message"].startswith(name)


async def test_pause_stops_leases_until_resume(client: ApiClient) -> None:
    await enqueue(client)
    assert (await client.post("/v1/queues/emails/pause")).json() == {"success": True}
    assert (await client.post("/v1/queues/emails/lease", json={})).json() == {"jobs": []}
    assert (await client.get("/v1/queues")).json()["summaries"][0]["paused"] is True
    await client.post("/v1/queues/emails/resume")
    assert (await lease_one(client))["queue"] == "emails"


async def test_delete_queue_purges_its_jobs(client: ApiClient) -> None:
    await enqueue(client)
    await enqueue(client)
    response = await client.delete("/v1/queues/emails")
    assert response.json() == {"purged": 2}
    assert (await client.post("/v1/queues/emails/lease", json={})).json() == {"jobs": []}


async def test_dlq_lists_dead_jobs_with_their_last_error(client: ApiClient) -> None:
    job_id = await _bury(client)
    page = (await client.get("/v1/queues/emails/dlq")).json()
    assert [(job["id"], job["state"], job["last_error"]) for job in page["jobs"]] == [(job_id, "dead", "boom")]
    assert page["next_cursor"] is None


async def test_dlq_requeue_of_some_or_all_makes_them_ready_with_tries_reset(client: ApiClient) -> None:
    first, second = await _bury(client), await _bury(client)
    response = await client.post("/v1/queues/emails/dlq/requeue", json={"job_ids": [first]})
    assert response.json() == {"requeued": 1}
    view = (await client.get(f"/v1/jobs/{first}")).json()
    assert (view["state"], view["tries"]) == ("ready", 0)
    assert (await client.post("/v1/queues/emails/dlq/requeue")).json() == {"requeued": 1}
    assert (await client.get(f"/v1/jobs/{second}")).json()["state"] == "ready"


@pytest.mark.parametrize("path", ["/v1/queues/emails/jobs", "/v1/queues/emails/dlq"])
async def test_a_cursor_that_no_page_gave_is_a_400_naming_it(client: ApiClient, path: str) -> None:
    await _bury(client)
    response = await client.get(path, params={"cursor": "garbage"})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "cursor"


async def test_dlq_purge_deletes_dead_jobs(client: ApiClient) -> None:
    await _bury(client)
    assert (await client.delete("/v1/queues/emails/dlq")).json() == {"purged": 1}
    assert (await client.get("/v1/queues/emails/dlq")).json()["jobs"] == []


async def _both_views_of_the_rate_limit(client: ApiClient) -> list[object]:
    stats = (await client.get("/v1/queues/emails/stats")).json()
    return [(await client.get("/v1/queues/emails/rate_limit")).json(), stats["rate_limit"]]


async def test_rate_limit_set_get_delete_as_get_and_stats_show_it(client: ApiClient) -> None:
    """One way to say "no limit": stats said null where GET said exists false."""
    none = {"capacity": 0.0, "refill_rate": 0.0, "exists": False}
    await enqueue(client)
    assert await _both_views_of_the_rate_limit(client) == [none, none]
    response = await client.post("/v1/queues/emails/rate_limit", json={"capacity": 2, "refill_rate": 1})
    assert response.json() == {"capacity": 2.0, "refill_rate": 1.0, "exists": True}
    assert await _both_views_of_the_rate_limit(client) == [response.json()] * 2
    assert (await client.delete("/v1/queues/emails/rate_limit")).json() == {"success": True}
    assert await _both_views_of_the_rate_limit(client) == [none, none]


async def test_rate_limit_caps_dispatch_until_tokens_refill(client: ApiClient, clock: FakeClock) -> None:
    for _ in range(3):
        await enqueue(client)
    await client.post("/v1/queues/emails/rate_limit", json={"capacity": 2, "refill_rate": 1})
    assert len((await client.post("/v1/queues/emails/lease", json={"max_jobs": 3})).json()["jobs"]) == 2
    assert (await client.post("/v1/queues/emails/lease", json={})).json() == {"jobs": []}
    clock.advance(1_000)
    assert len((await client.post("/v1/queues/emails/lease", json={})).json()["jobs"]) == 1


async def test_rate_limit_rejects_a_non_positive_capacity_naming_it(client: ApiClient) -> None:
    response = await client.post("/v1/queues/emails/rate_limit", json={"capacity": 0, "refill_rate": 1})
    assert response.status_code == 400
    assert "capacity" in response.json()["error"]["message"]


async def test_a_tiny_refill_rate_is_a_400_naming_it_and_long_polls_still_answer(client: ApiClient) -> None:
    """1e-306 tokens/s made the long-poll's wake-up time infinite: a 500."""
    response = await client.post("/v1/queues/emails/rate_limit", json={"capacity": 1, "refill_rate": 1e-306})
    assert (response.status_code, response.json()["error"]["field"]) == (400, "refill_rate")
    await client.post("/v1/queues/emails/rate_limit", json={"capacity": 1, "refill_rate": 1e-9})
    await enqueue(client)
    await enqueue(client)
    await lease_one(client)
    response = await client.post("/v1/queues/emails/lease", json={"wait_ms": 10})
    assert (response.status_code, response.json()) == (200, {"jobs": []})
