"""A real rivetqd caps open gRPC connections at ``server.max_connections``, as it does HTTP."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.e2e.server import start_server

CALL_TIMEOUT_S = 10.0
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]  # channels in one process share one otherwise


def _channel(target: str) -> grpc.Channel:
    return grpc.insecure_channel(target, options=OWN_CONNECTION)


def _check(channel: grpc.Channel, *, wait_for_ready: bool = False) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    request = health_pb2.HealthCheckRequest(service="")
    reply = stub.Check(request, timeout=CALL_TIMEOUT_S, wait_for_ready=wait_for_ready)
    return int(reply.status)


def test_a_connection_beyond_max_connections_is_refused_until_one_closes(tmp_path: Path) -> None:
    env = {"RIVETQ_SERVER_MAX_CONNECTIONS": "2"}
    # One process: with several, each front holds its share and the kernel picks the front.
    with start_server(tmp_path, "--storage-backend", "memory", "--workers", "1", env=env) as server:
        assert server.grpc_target is not None
        first, second = _channel(server.grpc_target), _channel(server.grpc_target)
        assert _check(first) == _check(second) == health_pb2.HealthCheckResponse.SERVING
        with _channel(server.grpc_target) as third:
            with pytest.raises(grpc.RpcError) as refused:
                _check(third)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        first.close()
        with _channel(server.grpc_target) as fourth:
            # The server may see the close after this connects; then the channel tries again.
            assert _check(fourth, wait_for_ready=True) == health_pb2.HealthCheckResponse.SERVING
        assert _check(second) == health_pb2.HealthCheckResponse.SERVING
        second.close()
