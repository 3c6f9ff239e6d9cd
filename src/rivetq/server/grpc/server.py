"""The grpc.aio server: the RivetQ service, reflection and health on one port, with the
auth gate, TLS and message size limits taken from ``GrpcOptions``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import grpc
from grpc_health.v1 import health_pb2
from grpc_health.v1._async import HealthServicer
from grpc_health.v1.health_pb2_grpc import add_HealthServicer_to_server
from grpc_reflection.v1alpha import reflection

from rivetq.server.grpc._pb import rivetq_pb2 as pb
from rivetq.server.grpc._pb import rivetq_pb2_grpc as pb_grpc
from rivetq.server.grpc.auth import GateInterceptor, bearer_check, loopback_check
from rivetq.server.grpc.health import follow_storage
from rivetq.server.grpc.observed import CallObserver, ObservingInterceptor, log_call, timed_calls
from rivetq.server.grpc.service import RivetQService
from rivetq.server.grpc.stream import LeaseStreams
from rivetq.settings import is_loopback_host, parse_addr

if TYPE_CHECKING:
    from prometheus_client import Histogram

    from rivetq.service import QueueService, StorageView
    from rivetq.settings import Settings

__all__ = [
    "MESSAGE_OVERHEAD_BYTES",
    "SERVICE_NAME",
    "GrpcOptions",
    "GrpcServer",
    "grpc_options",
    "serve",
    "start_grpc_server",
]

SERVICE_NAME: Final[str] = pb.DESCRIPTOR.services_by_name["RivetQ"].full_name
# Room for the fields around the largest payload.
MESSAGE_OVERHEAD_BYTES: Final = 64 * 1024


@dataclass(frozen=True)
class GrpcOptions:
    addr: str  # "host:port"; an empty host (":9090") listens on every IPv4 interface
    tokens: tuple[str, ...] = ()
    protected_mode: bool = True
    tls_cert_file: str = ""
    tls_key_file: str = ""
    max_message_bytes: int = 16_777_216  # largest request message (a batch enqueue)
    access_log: bool = False
    max_connections: int = 10_000  # one more is closed before its handshake
    # Several front processes share the port only with SO_REUSEPORT; one process binds
    # without it, so that no other server can join its port and take half its calls.
    reuse_port: bool = False


class GrpcServer:
    """A running gRPC server; ``port`` is the bound port (useful with port 0)."""

    def __init__(
        self,
        server: grpc.aio.Server,
        streams: LeaseStreams,
        health: HealthServicer,
        health_follower: asyncio.Task[None],
        port: int,
    ) -> None:
        self._server = server
        self._streams = streams
        self._health = health
        self._health_follower = health_follower
        self.port = port

    async def stop(self, grace: float | None = None) -> None:
        """Refuse new calls, end open streams, let running calls finish within ``grace`` s."""
        self._health_follower.cancel()
        await asyncio.gather(self._health_follower, return_exceptions=True)
        await self._health.enter_graceful_shutdown()
        self._streams.close()
        await self._server.stop(grace)


def _interceptors(options: GrpcOptions, call_duration: Histogram | None) -> list[Any]:
    """The observer first, so calls the gate refuses are timed and logged too."""
    observers: list[CallObserver] = [timed_calls(call_duration)] if call_duration is not None else []
    if options.access_log:
        observers.append(log_call)
    interceptors: list[Any] = [ObservingInterceptor(observers)] if observers else []
    if options.tokens:
        interceptors.append(GateInterceptor(bearer_check(options.tokens)))
    elif options.protected_mode and not is_loopback_host(parse_addr(options.addr)[0]):
        interceptors.append(GateInterceptor(loopback_check))
    return interceptors


def _bind(server: grpc.aio.Server, options: GrpcOptions) -> int:
    host, port = parse_addr(options.addr)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if not (options.tls_cert_file and options.tls_key_file):
        return server.add_insecure_port(address)
    key = Path(options.tls_key_file).read_bytes()
    cert = Path(options.tls_cert_file).read_bytes()
    return server.add_secure_port(address, grpc.ssl_server_credentials([(key, cert)]))


async def serve(
    manager: QueueService,
    options: GrpcOptions,
    storage: StorageView,
    call_duration: Histogram | None = None,
) -> GrpcServer:
    """Start serving on ``options.addr`` in the running event loop; the health service
    reports NOT_SERVING while the storage gives a reason it is unavailable, and every
    call's latency goes into ``call_duration`` (labels: method, code)."""
    server = grpc.aio.server(
        interceptors=_interceptors(options, call_duration),
        options=[
            ("grpc.max_receive_message_length", options.max_message_bytes),
            ("grpc.max_send_message_length", -1),
            ("grpc.max_allowed_incoming_connections", options.max_connections),
            ("grpc.so_reuseport", int(options.reuse_port)),
        ],
    )
    streams = LeaseStreams(manager)
    # Generated code carries no annotations.
    pb_grpc.add_RivetQServicer_to_server(RivetQService(manager, streams), server)  # type: ignore[no-untyped-call]
    health = HealthServicer()
    add_HealthServicer_to_server(health, server)
    health_name = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
    reflection.enable_server_reflection((SERVICE_NAME, health_name, reflection.SERVICE_NAME), server)
    port = _bind(server, options)
    await server.start()
    await health.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    follower = asyncio.create_task(follow_storage(health, [SERVICE_NAME], storage), name="rivetq-grpc-health")
    return GrpcServer(server, streams, health, follower, port)


def grpc_options(settings: Settings, *, reuse_port: bool = False) -> GrpcOptions:
    """The gRPC server's options from the same config keys as REST."""
    limits = settings.limits
    return GrpcOptions(
        addr=settings.server.grpc_addr,
        tokens=settings.auth.tokens,
        protected_mode=settings.auth.protected_mode,
        tls_cert_file=settings.server.tls_cert_file,
        tls_key_file=settings.server.tls_key_file,
        max_message_bytes=max(limits.max_request_bytes, limits.max_payload_bytes + MESSAGE_OVERHEAD_BYTES),
        access_log=settings.logging.access_log,
        max_connections=settings.server.max_connections,
        reuse_port=reuse_port,
    )


async def start_grpc_server(
    manager: QueueService,
    settings: Settings,
    storage: StorageView,
    call_duration: Histogram | None = None,
    *,
    reuse_port: bool = False,
) -> GrpcServer:
    """Serve ``manager`` on ``server.grpc_addr``; stop it with ``await server.stop(grace_s)``."""
    return await serve(manager, grpc_options(settings, reuse_port=reuse_port), storage, call_duration)
