"""Fixtures of the gRPC tests: a real rivetqd for the package, stubs on it, and
in-process servers for what needs options or the manager in hand (TLS, shutdown)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import grpc
import pytest

from rivetq.clock import SystemClock
from rivetq.manager import ManagerOptions, QueueManager
from rivetq.server.grpc._pb import rivetq_pb2_grpc as pb_grpc
from rivetq.server.grpc.server import GrpcOptions, GrpcServer, serve
from rivetq.service import LocalStorageView
from rivetq.storage.memory import MemoryStorage
from tests.e2e.server import RunningServer, start_server

MAX_PAYLOAD_BYTES = 4096
StartServer = Callable[[GrpcOptions], Awaitable[GrpcServer]]

SERVER_ENV = {
    "RIVETQ_LIMITS_MAX_PAYLOAD_BYTES": str(MAX_PAYLOAD_BYTES),
    "RIVETQ_LIMITS_MAX_REQUEST_BYTES": "65536",
    "RIVETQ_QUEUE_LEASE_CHECK_INTERVAL": "50ms",
}


@pytest.fixture(scope="package")
def rivetqd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One rivetqd (embedded engine, no fsync) for the package: tests use their own queues."""
    with start_server(tmp_path_factory.mktemp("rivetqd"), "--no-fsync", env=SERVER_ENV) as server:
        yield server


@pytest.fixture
def grpc_target(rivetqd: RunningServer) -> str:
    assert rivetqd.grpc_target is not None
    return rivetqd.grpc_target


@pytest.fixture
async def stub(grpc_target: str) -> AsyncIterator[pb_grpc.RivetQStub]:
    async with grpc.aio.insecure_channel(grpc_target) as channel:
        yield pb_grpc.RivetQStub(channel)


@pytest.fixture
async def start_grpc() -> AsyncIterator[StartServer]:
    """Starts in-process servers over one manager on MemoryStorage; stops them all."""
    storage = MemoryStorage()
    await storage.open()
    manager = QueueManager(storage, clock=SystemClock(), options=ManagerOptions(max_payload_bytes=MAX_PAYLOAD_BYTES))
    await manager.start()
    servers: list[GrpcServer] = []

    async def start(options: GrpcOptions) -> GrpcServer:
        servers.append(await serve(manager, options, LocalStorageView(storage)))
        return servers[-1]

    yield start
    for server in servers:
        await server.stop(None)
    await manager.stop()
    await storage.close()
