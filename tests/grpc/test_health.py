"""The gRPC health service follows the storage, as /readyz does."""

from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from rivetq.clock import SystemClock
from rivetq.manager import QueueManager
from rivetq.server.grpc.server import SERVICE_NAME, GrpcOptions, serve
from rivetq.service import StorageStatus
from rivetq.storage.memory import MemoryStorage

WITHIN_S = 10.0  # a hang guard: the status is checked every second


async def _until_status(stub: health_pb2_grpc.HealthStub, wanted: int) -> None:
    async with asyncio.timeout(WITHIN_S):
        while True:
            statuses = [
                (await stub.Check(health_pb2.HealthCheckRequest(service=name))).status for name in ("", SERVICE_NAME)
            ]
            if statuses == [wanted, wanted]:
                return
            await asyncio.sleep(0.05)


async def test_health_is_not_serving_while_the_storage_cannot_write() -> None:
    storage = MemoryStorage()
    manager = QueueManager(storage, clock=SystemClock())
    await manager.start()
    reason: list[str] = []

    class Storage:
        async def storage_status(self) -> StorageStatus:
            return StorageStatus(reason[0] if reason else None, {})

    server = await serve(manager, GrpcOptions(addr="127.0.0.1:0"), Storage())
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            await _until_status(stub, health_pb2.HealthCheckResponse.SERVING)
            reason.append("WAL write failed: no space left on device")
            await _until_status(stub, health_pb2.HealthCheckResponse.NOT_SERVING)
            reason.clear()
            await _until_status(stub, health_pb2.HealthCheckResponse.SERVING)
    finally:
        await server.stop(None)
        await manager.stop()
