"""Fixtures of the gRPC tests: a server to talk to and a stub on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import pytest

from rivetq.clock import SystemClock
from rivetq.manager import ManagerOptions, QueueManager
from rivetq.server.grpc._pb import rivetq_pb2_grpc as pb_grpc
from rivetq.server.grpc.server import GrpcOptions, GrpcServer, serve
from rivetq.storage.memory import MemoryStorage

StartServer = Callable[[GrpcOptions], Awaitable[GrpcServer]]


@pytest.fixture
async def start_grpc() -> AsyncIterator[StartServer]:
    """Starts in-process servers over one manager on MemoryStorage; stops them all."""
    storage = MemoryStorage()
    await storage.open()
    options = ManagerOptions(lease_check_interval_ms=50, max_payload_bytes=4096)
    manager = QueueManager(storage, clock=SystemClock(), options=options)
    await manager.start()
    servers: list[GrpcServer] = []

    async def start(options: GrpcOptions) -> GrpcServer:
        servers.append(await serve(manager, options))
        return servers[-1]

    yield start
    for server in servers:
        await server.stop(None)
    await manager.stop()
    await storage.close()


@pytest.fixture
async def grpc_target(start_grpc: StartServer) -> str:
    server = await start_grpc(GrpcOptions(addr="127.0.0.1:0", max_message_bytes=4096 + 65_536))
    return f"127.0.0.1:{server.port}"


@pytest.fixture
async def stub(grpc_target: str) -> AsyncIterator[pb_grpc.RivetQStub]:
    async with grpc.aio.insecure_channel(grpc_target) as channel:
        yield pb_grpc.RivetQStub(channel)
