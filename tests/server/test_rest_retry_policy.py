"""REST retry policy routes (SPEC §1: the backoff is settable per queue), in process."""

from __future__ import annotations

import pytest

from rivetq.clock import FakeClock
from tests.server.conftest import ApiClient, enqueue, lease_one

PATH = "/v1/queues/emails/retry_policy"
DEFAULTS = {"base_backoff_ms": 1000, "multiplier": 2.0, "max_backoff_ms": 3_600_000, "jitter": "equal"}


async def test_retry_policy_reads_the_defaults_until_set_and_after_delete(client: ApiClient) -> None:
    assert (await client.get(PATH)).json() == DEFAULTS
    policy = {"base_backoff_ms": 250, "multiplier": 3.0, "max_backoff_ms": 10_000, "jitter": "none"}
    response = await client.post(PATH, json=policy)
    assert (response.status_code, response.json()) == (200, policy)
    assert (await client.get(PATH)).json() == policy
    assert (await client.delete(PATH)).json() == {"success": True}
    assert (await client.get(PATH)).json() == DEFAULTS


async def test_omitted_fields_take_their_defaults(client: ApiClient) -> None:
    assert (await client.post(PATH, json={"jitter": "full"})).json() == {**DEFAULTS, "jitter": "full"}


async def test_a_nack_waits_the_queue_backoff(client: ApiClient, clock: FakeClock) -> None:
    await client.post(PATH, json={"base_backoff_ms": 5_000, "multiplier": 3, "jitter": "none"})
    await enqueue(client)
    for backoff_ms in (5_000, 15_000):  # base, then base * multiplier
        job = await lease_one(client)
        await client.post("/v1/nack", json={"job_id": job["id"], "lease_id": job["lease_id"]})
        clock.advance(backoff_ms - 1)
        assert (await client.post("/v1/queues/emails/lease", json={})).json() == {"jobs": []}
        clock.advance(1)
    assert (await lease_one(client))["tries"] == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"multiplier": 0.5}, "multiplier"),
        ({"multiplier": "2"}, "multiplier"),
        ({"base_backoff_ms": -1}, "base_backoff_ms"),
        ({"max_backoff_ms": 10**13}, "max_backoff_ms"),
        ({"jitter": "random"}, "jitter"),
        ({"backoff": 1}, "backoff"),
    ],
)
async def test_a_bad_retry_policy_is_a_400_naming_the_field(
    client: ApiClient, body: dict[str, object], field: str
) -> None:
    response = await client.post(PATH, json=body)
    assert response.status_code == 400
    assert field in response.json()["error"]["message"]
    assert (await client.get(PATH)).json() == DEFAULTS


async def test_a_bad_queue_name_is_a_400(client: ApiClient) -> None:
    response = await client.get("/v1/queues/bad name/retry_policy")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_argument")
