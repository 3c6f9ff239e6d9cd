"""One queue, two protocols: a job enqueued over gRPC leases over REST with its payload
byte for byte, and the reverse; leases taken on one protocol are acked on the other."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest

from rivetq import wire
from rivetq.server.grpc._pb import rivetq_pb2 as pb
from tests.e2e.server import RunningServer

Stub = Any
JSON = {"Content-Type": "application/json"}
# Spacing, escapes and number spellings a re-encoding would change.
PAYLOAD = b'{"b": [1, 2.50, 1e3, "\\u00e9\\n"],  "a" : null, "nested": {"k": true}}'


@pytest.fixture
async def rest(rivetqd: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=rivetqd.url, headers=JSON, timeout=30) as client:
        yield client


def _queue() -> str:
    return f"x-{uuid.uuid4().hex[:12]}"


async def _rest_lease(rest: httpx.AsyncClient, queue: str) -> wire.LeasedJob:
    response = await rest.post(f"/v1/queues/{queue}/lease", content=b'{"max_jobs": 1}')
    assert response.status_code == 200, response.text
    (job,) = msgspec.json.decode(response.content, type=wire.LeaseResponse).jobs
    return job


async def test_enqueued_over_grpc_leases_over_rest_byte_for_byte(stub: Stub, rest: httpx.AsyncClient) -> None:
    queue = _queue()
    request = pb.EnqueueRequest(queue=queue, payload=PAYLOAD, priority=7, max_retries=2)
    job_id = (await stub.Enqueue(request)).job_id
    job = await _rest_lease(rest, queue)
    assert (job.id, bytes(job.payload), job.priority, job.max_retries, job.tries) == (job_id, PAYLOAD, 7, 2, 0)
    await stub.Ack(pb.AckRequest(job_id=job.id, lease_id=job.lease_id))  # a REST lease acked over gRPC
    assert (await rest.get(f"/v1/jobs/{job_id}")).status_code == 404


async def test_enqueued_over_rest_leases_over_grpc_byte_for_byte(stub: Stub, rest: httpx.AsyncClient) -> None:
    queue = _queue()
    body = b'{"payload": ' + PAYLOAD + b', "priority": 2}'
    response = await rest.post(f"/v1/queues/{queue}/enqueue", content=body)
    assert response.status_code == 201, response.text
    job_id = response.json()["job_id"]
    (job,) = (await stub.Lease(pb.LeaseRequest(queue=queue))).jobs
    assert (job.id, job.payload, job.priority) == (job_id, PAYLOAD, 2)
    response = await rest.post("/v1/ack", json={"job_id": job.id, "lease_id": job.lease_id})  # and the reverse
    assert response.status_code == 200, response.text
    assert (await stub.Stats(pb.StatsRequest(queue=queue))).acked_total == 1


async def test_grpc_job_reads_the_same_over_rest(stub: Stub, rest: httpx.AsyncClient) -> None:
    queue = _queue()
    job_id = (await stub.Enqueue(pb.EnqueueRequest(queue=queue, payload=PAYLOAD, idempotency_key="k"))).job_id
    response = await rest.get(f"/v1/jobs/{job_id}")
    view = msgspec.json.decode(response.content, type=wire.JobView)
    assert (bytes(view.payload), view.state, view.idempotency_key) == (PAYLOAD, "ready", "k")
    duplicate = await rest.post(f"/v1/queues/{queue}/enqueue", content=b'{"payload": 1, "idempotency_key": "k"}')
    assert (duplicate.status_code, duplicate.json()) == (200, {"job_id": job_id, "duplicate": True})
