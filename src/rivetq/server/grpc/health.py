"""The gRPC health service follows the storage, as ``/readyz`` does: NOT_SERVING while
writes fail (a full disk, a lost database), SERVING again once they can succeed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from grpc_health.v1 import health_pb2
from grpc_health.v1._async import HealthServicer

from rivetq.errors import StorageUnavailable
from rivetq.service import StorageView

__all__ = ["follow_storage"]

_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def follow_storage(
    health: HealthServicer,
    services: Sequence[str],
    storage: StorageView,
    *,
    period_s: float = 1.0,
) -> None:
    """Set ``services`` (and the server's overall status, ``""``), which start SERVING, to
    the storage's state, checked every ``period_s``; runs until cancelled."""
    serving = True
    while True:
        try:
            now_serving = (await storage.storage_status()).unavailable_reason is None
        except StorageUnavailable:
            now_serving = False
        if now_serving != serving:
            for name in ("", *services):
                await health.set(name, _SERVING if now_serving else _NOT_SERVING)
            serving = now_serving
        await asyncio.sleep(period_s)
