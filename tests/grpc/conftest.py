"""Fixtures of the gRPC tests: a server to talk to and a stub on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from rivetq.clock import SystemClock
from rivetq.manager import ManagerOptions, QueueManager
from rivetq.server.grpc._pb import rivetq_pb2_grpc as pb_grpc
from rivetq.server.grpc.server import GrpcOptions, serve
from rivetq.storage.memory import MemoryStorage


@pytest.fixture
async def grpc_target() -> AsyncIterator[str]:
    storage = MemoryStorage()
    await storage.open()
    manager = QueueManager(
        storage, clock=SystemClock(), options=ManagerOptions(lease_check_interval_ms=50, max_payload_bytes=4096)
    )
    await manager.start()
    server = await serve(manager, GrpcOptions(addr="127.0.0.1:0", max_message_bytes=4096 + 65_536))
    yield f"127.0.0.1:{server.port}"
    await server.stop(None)
    await manager.stop()
    await storage.close()


@pytest.fixture
async def stub(grpc_target: str) -> AsyncIterator[pb_grpc.RivetQStub]:
    async with grpc.aio.insecure_channel(grpc_target) as channel:
        yield pb_grpc.RivetQStub(channel)
