"""Every gRPC call observed: its latency in ``rivetq_grpc_request_duration_seconds`` by
method and status code, and with the access log on a line per call with its method, status
code, duration and client, the gate's refusals included, never the token; no line when the
log is off."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from rivetq.server.grpc._pb import rivetq_pb2 as pb
from rivetq.server.grpc._pb import rivetq_pb2_grpc as pb_grpc
from tests.e2e.server import RunningServer, start_server

TOKEN = "tok-never-logged"
METHOD = "/rivetq.v1.RivetQ/"


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {"RIVETQ_AUTH_TOKENS": TOKEN, "RIVETQ_LOGGING_ACCESS_LOG": "true"}
    with start_server(tmp_path_factory.mktemp("rivetqd-log"), "--storage-backend", "memory", env=env) as server:
        yield server


def _calls(server: RunningServer, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while len(calls := [e for e in server.log_events() if e["event"] == "grpc_request"]) < count:
        assert time.monotonic() < deadline, f"{len(calls)} gRPC access log lines, expected {count}"
        time.sleep(0.05)
    return calls


async def test_every_call_is_logged_with_its_status_code(logged: RunningServer) -> None:
    assert logged.grpc_target is not None
    metadata = (("authorization", f"Bearer {TOKEN}"),)
    async with grpc.aio.insecure_channel(logged.grpc_target) as channel:
        stub = pb_grpc.RivetQStub(channel)
        await stub.Enqueue(pb.EnqueueRequest(queue="logged", payload=b"1"), metadata=metadata)
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.GetJob(pb.GetJobRequest(job_id="nope"), metadata=metadata)
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.ListQueues(pb.ListQueuesRequest(), metadata=(("authorization", "Bearer wrong"),))
        stream = stub.StreamLease(pb.StreamLeaseRequest(queue="logged", max_unacked=1), metadata=metadata)
        assert len((await stream.read()).jobs) == 1
        stream.cancel()
    calls = _calls(logged, 4)
    seen = {(call["method"].removeprefix(METHOD), call["code"]) for call in calls}
    assert seen == {("Enqueue", "OK"), ("GetJob", "NOT_FOUND"), ("ListQueues", "UNAUTHENTICATED"),
                    ("StreamLease", "CANCELLED")}  # fmt: skip
    assert all(call["client"] == "127.0.0.1" and call["duration_ms"] >= 0 for call in calls)
    assert TOKEN not in logged.output() and "wrong" not in logged.output()
    assert _timed_calls(logged) == {(METHOD + method, code): 1 for method, code in seen}


def _timed_calls(server: RunningServer) -> dict[tuple[str, str], float]:
    """(method, code) → calls counted by the latency histogram."""
    with server.client() as http:
        text = http.get("/metrics").text
    return {
        (sample.labels["method"], sample.labels["code"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "rivetq_grpc_request_duration_seconds_count"
    }


async def test_no_grpc_access_log_unless_enabled_but_calls_are_timed(
    rivetqd: RunningServer, stub: pb_grpc.RivetQStub
) -> None:
    before = _timed_calls(rivetqd).get((METHOD + "ListQueues", "OK"), 0)
    await stub.ListQueues(pb.ListQueuesRequest())
    assert [e for e in rivetqd.log_events() if e["event"] == "grpc_request"] == []
    assert _timed_calls(rivetqd)[(METHOD + "ListQueues", "OK")] == before + 1
