"""/metrics: the seed's exact names and labels, plus the latency histograms."""

from __future__ import annotations

import asyncio

import msgspec
from prometheus_client.parser import text_string_to_metric_families

from rivetq import wire
from rivetq.clock import FakeClock
from tests.server.conftest import ApiClient, enqueue, lease_one

SEED_NAMES = {
    "rivetq_jobs_enqueued_total": ("queue",),
    "rivetq_jobs_leased_total": ("queue",),
    "rivetq_jobs_acked_total": ("queue",),
    "rivetq_jobs_nacked_total": ("queue",),
    "rivetq_jobs_ready": ("queue",),
    "rivetq_jobs_inflight": ("queue",),
    "rivetq_jobs_dlq": ("queue",),
    "rivetq_wal_segments": (),
    "rivetq_wal_size_bytes": (),
    "rivetq_rate_limit_rejections_total": ("queue",),
    "rivetq_lease_expirations_total": ("queue",),
    "rivetq_dlq_moves_total": ("queue",),
}


async def _samples(client: ApiClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def test_metrics_use_the_seed_names_and_labels(client: ApiClient, clock: FakeClock) -> None:
    await enqueue(client, priority=9, max_retries=0)
    await enqueue(client, priority=8)
    await enqueue(client, priority=7, delay_ms=10)
    doomed = await lease_one(client)
    await client.post("/v1/nack", json={"job_id": doomed["id"], "lease_id": doomed["lease_id"]})
    done = await lease_one(client)
    await client.post("/v1/ack", json={"job_id": done["id"], "lease_id": done["lease_id"]})
    clock.advance(10)
    await lease_one(client, visibility_ms=1_000)
    clock.advance(1_000)
    await client.runtime.manager.reap_expired_leases()
    clock.advance(3_600_000)  # past any backoff
    await enqueue(client)
    await client.post("/v1/queues/emails/rate_limit", json={"capacity": 1, "refill_rate": 0.001})
    await client.post("/v1/queues/emails/lease", json={"max_jobs": 2})
    samples = await _samples(client)
    for name, label_names in SEED_NAMES.items():
        label_sets = {tuple(key for key, _ in labels) for (sample, labels) in samples if sample == name}
        assert label_sets == {label_names}, name
    assert _value(samples, "rivetq_jobs_enqueued_total", queue="emails") == 4
    assert _value(samples, "rivetq_jobs_leased_total", queue="emails") == 4
    assert _value(samples, "rivetq_jobs_acked_total", queue="emails") == 1
    assert _value(samples, "rivetq_jobs_nacked_total", queue="emails") == 1
    assert _value(samples, "rivetq_jobs_ready", queue="emails") == 1
    assert _value(samples, "rivetq_jobs_inflight", queue="emails") == 1
    assert _value(samples, "rivetq_rate_limit_rejections_total", queue="emails") == 1
    assert _value(samples, "rivetq_jobs_dlq", queue="emails") == 1
    assert _value(samples, "rivetq_dlq_moves_total", queue="emails") == 1
    assert _value(samples, "rivetq_lease_expirations_total", queue="emails") == 1
    assert _value(samples, "rivetq_wal_segments") == 0
    assert _value(samples, "rivetq_wal_size_bytes") == 0


async def test_metrics_count_rate_limit_rejections(client: ApiClient) -> None:
    await enqueue(client)
    await enqueue(client)
    await client.post("/v1/queues/emails/rate_limit", json={"capacity": 1, "refill_rate": 0.001})
    await client.post("/v1/queues/emails/lease", json={"max_jobs": 2})
    samples = await _samples(client)
    assert _value(samples, "rivetq_rate_limit_rejections_total", queue="emails") == 1


async def test_metrics_count_lease_expirations(client: ApiClient, clock: FakeClock) -> None:
    await enqueue(client)
    await lease_one(client, visibility_ms=1_000)
    clock.advance(1_000)
    await client.runtime.manager.reap_expired_leases()
    samples = await _samples(client)
    assert _value(samples, "rivetq_lease_expirations_total", queue="emails") == 1
    assert _value(samples, "rivetq_jobs_inflight", queue="emails") == 0


async def test_metrics_histograms_measure_requests_and_enqueue_to_lease_wait(
    client: ApiClient, clock: FakeClock
) -> None:
    await enqueue(client)
    clock.advance(2_500)
    await lease_one(client)
    samples = await _samples(client)
    route = {"method": "POST", "route": "/v1/queues/{queue}/enqueue", "status": "201"}
    assert _value(samples, "rivetq_http_request_duration_seconds_count", **route) == 1
    assert _value(samples, "rivetq_enqueue_to_lease_seconds_count", queue="emails") == 1
    assert _value(samples, "rivetq_enqueue_to_lease_seconds_sum", queue="emails") == 2.5
    assert _value(samples, "rivetq_wal_fsync_duration_seconds_count") == 0


async def test_metrics_label_unknown_paths_by_a_fixed_route_name(client: ApiClient) -> None:
    await client.get("/no/such/path/12345")
    samples = await _samples(client)
    routes = {dict(labels).get("route") for (name, labels) in samples if name.startswith("rivetq_http_request")}
    assert "unmatched" in routes
    assert not any(route and "12345" in route for route in routes)


async def test_metrics_gauges_drop_a_purged_queue_to_zero(client: ApiClient) -> None:
    await enqueue(client)
    await client.delete("/v1/queues/emails")
    samples = await _samples(client)
    assert _value(samples, "rivetq_jobs_ready", queue="emails") == 0


async def test_a_scrape_of_many_queues_does_not_hold_up_other_requests(client: ApiClient) -> None:
    """Rendering 2,000 queues' series takes a good part of a second: off the event loop."""
    for n in range(2000):
        await client.runtime.manager.enqueue(f"q{n}", wire.EnqueueRequest(payload=msgspec.Raw(b"1")))
        await client.runtime.manager.lease(f"q{n}")
    finished: list[str] = []

    async def get(path: str) -> None:
        assert (await client.get(path)).status_code == 200
        finished.append(path)

    scrape = asyncio.create_task(get("/metrics"))
    await asyncio.sleep(0.05)
    await get("/healthz")
    await scrape
    assert finished == ["/healthz", "/metrics"]
