"""REST job routes: shapes and statuses of SPEC §3, in process."""

from __future__ import annotations

import re

import httpx
import pytest

from rivetq.clock import FakeClock
from tests.server.conftest import ApiClient, enqueue, lease_one

RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _error(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()["error"]
    return response.status_code, body["code"], body["message"]


async def test_enqueue_answers_201_with_the_job_id(client: ApiClient) -> None:
    response = await client.post("/v1/queues/emails/enqueue", json={"payload": {"to": "x"}, "priority": 7})
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert list(response.json()) == ["job_id"]


async def test_enqueue_with_a_seen_idempotency_key_answers_200_duplicate(client: ApiClient) -> None:
    first = await enqueue(client, idempotency_key="order-1")
    response = await client.post("/v1/queues/emails/enqueue", json={"payload": 2, "idempotency_key": "order-1"})
    assert response.status_code == 200
    assert response.json() == {"job_id": first, "duplicate": True}


async def test_enqueue_batch_answers_201_with_ids_in_order(client: ApiClient) -> None:
    jobs = [{"payload": n} for n in range(3)]
    response = await client.post("/v1/queues/emails/enqueue_batch", json={"jobs": jobs})
    assert response.status_code == 201
    ids = response.json()["job_ids"]
    assert len(ids) == 3
    leased = (await client.post("/v1/queues/emails/lease", json={"max_jobs": 3})).json()["jobs"]
    assert [job["id"] for job in leased] == ids


async def test_enqueue_batch_with_one_invalid_job_creates_nothing(client: ApiClient) -> None:
    response = await client.post("/v1/queues/emails/enqueue_batch", json={"jobs": [{"payload": 1}, {"priority": 3}]})
    assert _error(response)[:2] == (400, "invalid_argument")
    assert "jobs[1]" in _error(response)[2]
    assert (await client.post("/v1/queues/emails/lease", json={})).json() == {"jobs": []}


async def test_lease_returns_the_seed_shape_with_rfc3339_times(client: ApiClient, clock: FakeClock) -> None:
    """The seed's fields, plus eta and idempotency_key, so a leased job says all a lookup does."""
    clock.set(1_764_352_200_123)
    job_id = await enqueue(client, priority=7, delay_ms=1000, idempotency_key="key-1")
    clock.advance(1000)
    job = await lease_one(client, visibility_ms=30_000)
    assert set(job) == {
        "id", "queue", "payload", "priority", "tries", "max_retries", "lease_id", "lease_expires_at", "created_at",
        "eta", "idempotency_key", "headers",
    }  # fmt: skip
    assert (job["id"], job["queue"], job["payload"], job["priority"], job["tries"], job["idempotency_key"]) == (
        job_id, "emails", {"to": "a@example.com"}, 7, 0, "key-1"
    )  # fmt: skip
    assert (job["created_at"], job["eta"]) == ("2025-11-28T17:50:00.123Z", "2025-11-28T17:50:01.123Z")
    assert job["lease_expires_at"] == "2025-11-28T17:50:31.123Z"


async def test_lease_keeps_the_payload_bytes_exactly(client: ApiClient) -> None:
    raw = b'{"payload": {"b": [1, 2.50, "\\u00e9"],  "a": null}}'
    await client.post("/v1/queues/emails/enqueue", content=raw)
    response = await client.post("/v1/queues/emails/lease", json={})
    assert b'"payload":{"b": [1, 2.50, "\\u00e9"],  "a": null}' in response.content


async def test_lease_on_an_unknown_queue_returns_no_jobs(client: ApiClient) -> None:
    response = await client.post("/v1/queues/never-seen/lease", json={"max_jobs": 5})
    assert (response.status_code, response.json()) == (200, {"jobs": []})


async def test_lease_with_an_empty_body_uses_the_defaults(client: ApiClient) -> None:
    await enqueue(client)
    response = await client.post("/v1/queues/emails/lease")
    assert len(response.json()["jobs"]) == 1


async def test_delayed_job_is_leased_only_after_its_delay(client: ApiClient, clock: FakeClock) -> None:
    job_id = await enqueue(client, delay_ms=5_000)
    assert (await client.post("/v1/queues/emails/lease", json={})).json() == {"jobs": []}
    assert (await client.get(f"/v1/jobs/{job_id}")).json()["state"] == "delayed"
    clock.advance(5_000)
    assert (await lease_one(client))["id"] == job_id


async def test_ack_removes_the_job_and_a_second_ack_is_a_404(client: ApiClient) -> None:
    await enqueue(client)
    job = await lease_one(client)
    ack = {"job_id": job["id"], "lease_id": job["lease_id"]}
    response = await client.post("/v1/ack", json=ack)
    assert (response.status_code, response.json()) == (200, {"success": True})
    assert _error(await client.post("/v1/ack", json=ack))[:2] == (404, "job_not_found")
    assert _error(await client.get(f"/v1/jobs/{job['id']}"))[:2] == (404, "job_not_found")
    for path, body in (("/v1/nack", ack), ("/v1/extend", {**ack, "visibility_ms": 1000})):
        assert _error(await client.post(path, json=body))[:2] == (404, "job_not_found")


async def test_ack_with_a_wrong_lease_is_a_409_and_changes_nothing(client: ApiClient) -> None:
    await enqueue(client)
    job = await lease_one(client)
    response = await client.post("/v1/ack", json={"job_id": job["id"], "lease_id": "not-the-lease"})
    assert _error(response)[:2] == (409, "lease_lost")
    assert (await client.get(f"/v1/jobs/{job['id']}")).json()["state"] == "inflight"


async def test_ack_batch_reports_each_ack_on_its_own(client: ApiClient) -> None:
    await enqueue(client, payload=1)
    await enqueue(client, payload=2)
    job, other = await lease_one(client), await lease_one(client)
    acks = [
        {"job_id": job["id"], "lease_id": job["lease_id"]},
        {"job_id": other["id"], "lease_id": "stale"},
        {"job_id": job["id"], "lease_id": job["lease_id"]},  # acked just before: gone
    ]
    results = (await client.post("/v1/ack_batch", json={"acks": acks})).json()["results"]
    assert results[0] == {"job_id": job["id"], "ok": True}
    assert [(r["ok"], r["error_code"]) for r in results[1:]] == [(False, "lease_lost"), (False, "job_not_found")]
    assert results[1]["error"] and results[2]["error"]


async def test_lease_with_acks_acks_them_and_leases_the_next_jobs(client: ApiClient) -> None:
    first, second = await enqueue(client, payload=1), await enqueue(client, payload=2)
    done = await lease_one(client)
    response = await client.post(
        "/v1/queues/emails/lease", json={"acks": [{"job_id": done["id"], "lease_id": done["lease_id"]}]}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["acks"] == [{"job_id": first, "ok": True}]
    assert [job["id"] for job in body["jobs"]] == [second]
    assert (await client.get(f"/v1/jobs/{first}")).status_code == 404


async def test_lease_with_a_lost_ack_reports_it_and_still_leases(client: ApiClient) -> None:
    await enqueue(client)
    job = await lease_one(client)
    response = await client.post(
        "/v1/queues/emails/lease", json={"acks": [{"job_id": job["id"], "lease_id": "stale"}], "max_jobs": 5}
    )
    body = response.json()
    assert (body["acks"][0]["ok"], body["acks"][0]["error_code"]) == (False, "lease_lost")
    assert body["jobs"] == []
    assert (await client.get(f"/v1/jobs/{job['id']}")).json()["state"] == "inflight"


async def test_lease_without_acks_answers_no_acks_field(client: ApiClient) -> None:
    await enqueue(client)
    assert list((await client.post("/v1/queues/emails/lease", json={"acks": []})).json()) == ["jobs", "acks"]
    assert list((await client.post("/v1/queues/emails/lease", json={})).json()) == ["jobs"]


async def test_lease_with_an_invalid_argument_changes_nothing(client: ApiClient) -> None:
    for _ in range(2):
        await enqueue(client)
    job = await lease_one(client)
    ack = {"job_id": job["id"], "lease_id": job["lease_id"]}
    bad_visibility = await client.post("/v1/queues/emails/lease", json={"acks": [ack], "visibility_ms": 0})
    assert _error(bad_visibility)[:2] == (400, "invalid_argument") and "visibility_ms" in _error(bad_visibility)[2]
    bad_ack = await client.post("/v1/queues/emails/lease", json={"acks": [ack, {"job_id": "", "lease_id": "x"}]})
    assert _error(bad_ack)[:2] == (400, "invalid_argument") and "acks[1].job_id" in _error(bad_ack)[2]
    too_many = await client.post("/v1/queues/emails/lease", json={"acks": [ack] * 1001})
    assert _error(too_many)[:2] == (400, "invalid_argument") and "acks" in _error(too_many)[2]
    stats = (await client.get("/v1/queues/emails/stats")).json()
    assert (stats["ready"], stats["inflight"], stats["acked_total"]) == (1, 1, 0)


async def test_nack_with_retries_left_answers_delayed(client: ApiClient) -> None:
    await enqueue(client)
    job = await lease_one(client)
    response = await client.post("/v1/nack", json={"job_id": job["id"], "lease_id": job["lease_id"], "reason": "x"})
    assert response.json() == {"success": True, "state": "delayed"}
    view = (await client.get(f"/v1/jobs/{job['id']}")).json()
    assert (view["tries"], view["last_error"]) == (1, "x")


async def test_nack_of_the_last_try_answers_dead(client: ApiClient) -> None:
    await enqueue(client, max_retries=0)
    job = await lease_one(client)
    response = await client.post("/v1/nack", json={"job_id": job["id"], "lease_id": job["lease_id"]})
    assert response.json() == {"success": True, "state": "dead"}


async def test_extend_answers_the_new_expiry(client: ApiClient, clock: FakeClock) -> None:
    clock.set(1_764_352_200_000)
    await enqueue(client)
    job = await lease_one(client)
    clock.advance(1_000)
    extend = {"job_id": job["id"], "lease_id": job["lease_id"], "visibility_ms": 60_000}
    response = await client.post("/v1/extend", json=extend)
    assert response.json() == {"lease_expires_at": "2025-11-28T17:51:01.000Z"}


async def test_get_job_shows_its_fields_and_state(client: ApiClient) -> None:
    job_id = await enqueue(client, idempotency_key="k1", max_retries=5)
    view = (await client.get(f"/v1/jobs/{job_id}")).json()
    assert (view["state"], view["idempotency_key"], view["max_retries"]) == ("ready", "k1", 5)
    assert RFC3339_MS.match(view["eta"]) and RFC3339_MS.match(view["created_at"])


async def test_cancel_deletes_a_waiting_job_and_refuses_an_inflight_one(client: ApiClient) -> None:
    waiting = await enqueue(client, priority=0)
    await enqueue(client, priority=9)
    inflight = (await lease_one(client))["id"]
    response = await client.delete(f"/v1/jobs/{waiting}")
    assert (response.status_code, response.json()) == (200, {"success": True, "job_id": waiting})
    assert _error(await client.delete(f"/v1/jobs/{inflight}"))[:2] == (409, "state_conflict")
    assert _error(await client.delete("/v1/jobs/no-such-job"))[:2] == (404, "job_not_found")


_JOB = "0190a000-0000-7000-8000-000000000000"


@pytest.mark.parametrize(
    ("path", "body", "field", "says"),
    [
        ("/v1/queues/q/enqueue", {"payload": 1, "priority": 10}, "priority", "<= 9"),
        ("/v1/queues/q/enqueue", {"payload": 1, "prio": 1}, "prio", "unknown field `prio`"),
        ("/v1/queues/q/enqueue", {}, "payload", "missing required field `payload`"),
        ("/v1/queues/q/enqueue_batch", {"jobs": [{"payload": 1}, {}]}, "jobs[1].payload", "missing required"),
        ("/v1/queues/q/enqueue_batch", {"jobs": [{"payload": 1, "x": 2}]}, "jobs[0].x", "unknown field `x`"),
        ("/v1/extend", {"job_id": _JOB, "lease_id": "l"}, "visibility_ms", "missing required"),
        ("/v1/queues/q/rate_limit", {"capacity": 5}, "refill_rate", "missing required"),
    ],
)
async def test_a_bad_missing_or_unknown_field_is_a_400_that_names_it(
    client: ApiClient, path: str, body: dict[str, object], field: str, says: str
) -> None:
    response = await client.post(path, json=body)
    assert _error(response)[:2] == (400, "invalid_argument")
    error = response.json()["error"]
    assert (error["field"], says in error["message"]) == (field, True)


async def test_malformed_json_is_a_400(client: ApiClient) -> None:
    status, code, message = _error(await client.post("/v1/queues/q/enqueue", content=b'{"payload": '))
    assert (status, code) == (400, "invalid_argument")
    assert message.startswith("malformed JSON")


async def test_deeply_nested_json_is_a_400_not_a_crash(client: ApiClient) -> None:
    body = b'{"payload": ' + b"[" * 5_000 + b"]" * 5_000 + b"}"
    status, code, message = _error(await client.post("/v1/queues/q/enqueue", content=body))
    assert (status, code, message) == (400, "invalid_argument", "malformed JSON: nested too deeply")


async def test_invalid_utf8_in_a_payload_is_a_400(client: ApiClient) -> None:
    response = await client.post("/v1/queues/q/enqueue", content=b'{"payload": {"a": "\xff"}}')
    assert _error(response) == (400, "invalid_argument", "malformed JSON: invalid UTF-8 at byte 19")


@pytest.mark.parametrize("name", ["bad%20name", "%2E", "%2E%2E"])
async def test_invalid_queue_name_is_a_400(client: ApiClient, name: str) -> None:
    response = await client.post(f"/v1/queues/{name}/enqueue", json={"payload": 1})
    assert _error(response)[:2] == (400, "invalid_argument")
