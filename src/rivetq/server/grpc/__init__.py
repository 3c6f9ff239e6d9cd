"""The gRPC edge (``rivetq.v1.RivetQ``), served from the same event loop as REST."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rivetq.server.grpc.server import MESSAGE_OVERHEAD_BYTES, GrpcOptions, GrpcServer, serve

if TYPE_CHECKING:
    from rivetq.manager import QueueManager
    from rivetq.settings import Settings

__all__ = ["GrpcOptions", "GrpcServer", "grpc_options", "start_grpc_server"]


def grpc_options(settings: Settings) -> GrpcOptions:
    """The gRPC server's options from the same config keys as REST."""
    limits = settings.limits
    return GrpcOptions(
        addr=settings.server.grpc_addr,
        tokens=settings.auth.tokens,
        protected_mode=settings.auth.protected_mode,
        tls_cert_file=settings.server.tls_cert_file,
        tls_key_file=settings.server.tls_key_file,
        max_message_bytes=max(limits.max_request_bytes, limits.max_payload_bytes + MESSAGE_OVERHEAD_BYTES),
    )


async def start_grpc_server(manager: QueueManager, settings: Settings) -> GrpcServer:
    """Serve ``manager`` on ``server.grpc_addr``; stop it with ``await server.stop(grace_s)``."""
    return await serve(manager, grpc_options(settings))
