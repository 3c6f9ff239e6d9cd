"""Serving a runtime over HTTP with uvicorn (uvloop, httptools) and gRPC until
SIGTERM/SIGINT: the whole server in one process (``server.workers: 1``), or one front
process of ``rivetqd --workers N`` (``serve_runtime`` with a ``FrontRuntime``).

Shutdown order: stop accepting, let in-flight requests finish, then stop the manager and
close the storage (flushing the log), then return 0.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from collections.abc import Callable, Iterator, Mapping

import structlog
import uvicorn

from rivetq.errors import RivetQError, StorageSetupFailed
from rivetq.server.app import Runtime, ServedRuntime
from rivetq.server.file_limit import raise_open_file_limit
from rivetq.server.grpc import GrpcServer, start_grpc_server
from rivetq.server.http_protocol import ConnectionLimits, guarded_protocol, stop_taking_requests
from rivetq.server.listeners import listen_http, url
from rivetq.settings import Settings, effective_workers, is_loopback_host, parse_addr, unknown_env_names

__all__ = ["Fatal", "log_started", "serve", "serve_runtime"]

_GRACEFUL_SHUTDOWN_S = 30  # above the longest long-poll (wait_ms ≤ 20 s)
_log = structlog.get_logger("rivetq.server")


class Fatal:
    """The manager's ``on_fatal``: a dead background loop stops the server, loudly; so
    does any other loss it cannot serve without (``stop``, e.g. a front's storage owner)."""

    def __init__(self) -> None:
        self.error: BaseException | None = None
        self._server: uvicorn.Server | None = None

    def __call__(self, error: BaseException) -> None:
        self.stop("rivetqd_background_loop_died", error)

    def stop(self, event: str, error: BaseException) -> None:
        self.error = error
        _log.error(event, error=repr(error))
        if self._server is not None:
            self._server.should_exit = True

    def attach(self, server: uvicorn.Server) -> None:
        """From now on a death stops ``server``; one during startup stops it at once
        (uvicorn then starts and shuts down without serving)."""
        self._server = server
        server.should_exit = self.error is not None


class _Server(uvicorn.Server):
    """uvicorn re-raises a caught SIGTERM/SIGINT after shutting down, which would kill
    the process before the storage is closed and make it exit non-zero; here a signal
    only ends ``serve``."""

    def __init__(self, config: uvicorn.Config, runtime: ServedRuntime, grpc: GrpcServer | None) -> None:
        super().__init__(config)
        self._runtime = runtime
        self._grpc = grpc

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        _log.info("rivetqd_stopping")
        stop_taking_requests(self.config.http_protocol_class, self.server_state.connections)
        await self._runtime.drain()
        if self._grpc is not None:
            await self._grpc.stop(grace=_GRACEFUL_SHUTDOWN_S)
        await super().shutdown(sockets)


async def _start_grpc(settings: Settings, runtime: ServedRuntime, reuse_port: bool) -> GrpcServer | None:
    if not settings.server.grpc_addr:
        return None
    try:
        return await start_grpc_server(
            runtime.service,
            settings,
            runtime.storage_view,
            runtime.metrics.grpc_request_duration,
            reuse_port=reuse_port,
        )
    except RuntimeError as error:  # grpc reports a port it cannot bind as RuntimeError
        raise RivetQError(f"server.grpc_addr: cannot listen on {settings.server.grpc_addr}: {error}") from None


def _uvicorn_config(settings: Settings, runtime: ServedRuntime) -> uvicorn.Config:
    server = settings.server
    limits = ConnectionLimits(
        header_timeout_s=server.read_header_timeout_ms / 1000,
        body_timeout_s=server.read_body_timeout_ms / 1000,
        max_connections=server.max_connections,
        log_refusals=settings.logging.access_log,
    )
    return uvicorn.Config(
        runtime.app,
        loop="none",
        http=guarded_protocol(limits),
        timeout_keep_alive=-(-server.keep_alive_timeout_ms // 1000),  # uvicorn takes whole seconds: round up
        lifespan="off",
        access_log=False,
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_S,
        ssl_certfile=server.tls_cert_file or None,
        ssl_keyfile=server.tls_key_file or None,
    )


def _raise_open_file_limit(settings: Settings) -> None:
    """Room for the HTTP cap, and for gRPC's of the same size when gRPC listens."""
    cap = settings.server.max_connections
    raise_open_file_limit(cap, cap if settings.server.grpc_addr else 0)


def log_started(settings: Settings, sock: socket.socket, grpc_port: int | None, workers: int = 1) -> None:
    tls = bool(settings.server.tls_cert_file)
    http_host, http_port = sock.getsockname()[:2]
    grpc_host = parse_addr(settings.server.grpc_addr)[0] if grpc_port is not None else ""
    local = settings.storage.backend == "local"
    _log.info(
        "rivetqd_started",
        http=url("https" if tls else "http", http_host, http_port),
        grpc=url("grpcs" if tls else "grpc", grpc_host, grpc_port) if grpc_port is not None else "disabled",
        workers=workers,
        storage=settings.storage.backend,
        data_dir=settings.storage.data_dir if local else None,
        fsync=settings.wal.fsync if local else None,
        auth="tokens" if settings.auth.tokens else "none",
    )
    _warn_exposure(settings, http_host)
    _warn_unknown_env(os.environ)


def _warn_exposure(settings: Settings, http_host: str) -> None:
    """Say so at startup when the server is reachable beyond this machine without the
    protection an operator probably expects."""
    if is_loopback_host(http_host):
        return
    auth = settings.auth
    if not auth.tokens and auth.protected_mode:
        _log.warning("rivetqd_protected_mode", detail="no auth.tokens: API calls are answered only from loopback")
    elif not auth.tokens:
        _log.warning("rivetqd_no_auth", detail="no auth.tokens and protected_mode off: anyone who can connect may call")
    elif not settings.server.tls_cert_file:
        _log.warning("rivetqd_tokens_without_tls", detail="bearer tokens travel in clear text; set server.tls_*")


def _warn_unknown_env(env: Mapping[str, str]) -> None:
    for name, resembles in unknown_env_names(env):
        _log.warning("rivetqd_unknown_env", variable=name, detail="not a setting: ignored", did_you_mean=resembles)


async def serve(settings: Settings) -> int:
    """Run until a signal; the exit status: 0 after a clean shutdown, 2 if the storage
    cannot be used as configured (the operator must fix it), 1 if startup failed otherwise
    or a background loop (or, with several workers, the storage owner) died."""
    workers = effective_workers(settings)
    if workers > 1:
        from rivetq.server.procs.supervisor import supervise

        return await supervise(settings, workers)
    return await serve_runtime(
        settings,
        lambda fatal: Runtime(settings, on_fatal=fatal),
        lambda: listen_http(settings.server.http_addr),
        on_started=lambda sock, grpc: log_started(settings, sock, grpc.port if grpc else None),
    )


async def serve_runtime(
    settings: Settings,
    make_runtime: Callable[[Fatal], ServedRuntime],
    listen: Callable[[], socket.socket],
    *,
    on_started: Callable[[socket.socket, GrpcServer | None], None],
    reuse_port: bool = False,
) -> int:
    """Serve the runtime ``make_runtime`` builds on the socket ``listen`` gives (and gRPC,
    sharing its port with other processes when ``reuse_port``) until a signal."""
    fatal = Fatal()
    async with contextlib.AsyncExitStack() as stack:
        _raise_open_file_limit(settings)
        try:
            runtime = make_runtime(fatal)
            sock = listen()
            stack.callback(sock.close)
            await runtime.start()
            stack.push_async_callback(runtime.stop)
            grpc = await _start_grpc(settings, runtime, reuse_port)
        except (RivetQError, OSError) as error:
            _log.error("rivetqd_startup_failed", error=str(error))
            return 2 if isinstance(error, StorageSetupFailed) else 1
        server = _Server(_uvicorn_config(settings, runtime), runtime, grpc)
        fatal.attach(server)
        on_started(sock, grpc)
        await server.serve(sockets=[sock])
    _log.info("rivetqd_stopped")
    return 0 if fatal.error is None else 1
