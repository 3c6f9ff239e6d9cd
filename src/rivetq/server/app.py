"""The composition root: Settings → storage → QueueManager → Starlette app.

``Runtime`` owns the parts and their life (``start`` opens storage and starts the
manager's loops; ``stop`` undoes both). ``rivetqd`` serves ``runtime.app`` with uvicorn;
tests drive it in-process (``httpx.ASGITransport``) inside ``async with runtime``.
``FrontRuntime`` is a front process's: the same app over a ``ManagerProxy`` that calls
the storage owner (``rivetqd --workers N``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from rivetq._version import __version__
from rivetq.clock import Clock, SystemClock
from rivetq.errors import InvalidArgument, RivetQError
from rivetq.manager import ManagerOptions, QueueManager
from rivetq.server.access_log import AccessLogMiddleware
from rivetq.server.debug import debug_routes
from rivetq.server.metrics import Metrics
from rivetq.server.openapi import openapi_document, openapi_routes
from rivetq.server.procs.proxy import ManagerProxy
from rivetq.server.rest.auth import AuthMiddleware
from rivetq.server.rest.backup import BackupEndpoints
from rivetq.server.rest.bodies import BodyLimits
from rivetq.server.rest.concurrency import ConcurrencyLimitEndpoints
from rivetq.server.rest.dlq import DlqEndpoints
from rivetq.server.rest.errors import error_body, http_exception_response, rivetq_error_response
from rivetq.server.rest.guards import JsonContentTypeMiddleware
from rivetq.server.rest.health import HealthEndpoints
from rivetq.server.rest.jobs import JobEndpoints
from rivetq.server.rest.operations import Operation, routes_for
from rivetq.server.rest.queue_deletion import QueueDeletionEndpoints
from rivetq.server.rest.queues import QueueEndpoints
from rivetq.server.rest.ratelimit import RateLimitEndpoints
from rivetq.server.rest.retrypolicy import RetryPolicyEndpoints
from rivetq.server.rest.schedules import ScheduleEndpoints
from rivetq.server.rest.timing import RequestTimingMiddleware
from rivetq.server.ui import UI_STATIC_DIR, ui_routes
from rivetq.service import LocalStorageView, QueueService, StorageView
from rivetq.settings import Settings, is_loopback_host, parse_addr
from rivetq.storage.base import Storage

__all__ = ["FrontRuntime", "Runtime", "ServedRuntime", "build_storage", "manager_options"]


def build_storage(settings: Settings, metrics: Metrics) -> Storage:
    """The storage backend ``storage.backend`` names (the seam where backends plug in)."""
    backend = settings.storage.backend
    if backend == "memory":
        from rivetq.storage.memory import MemoryStorage

        return MemoryStorage()
    if backend == "local":
        from rivetq.backup.options import backup_options
        from rivetq.storage.local import LocalOptions, LocalStorage

        options = LocalOptions(
            data_dir=Path(settings.storage.data_dir),
            segment_size=settings.wal.segment_size,
            fsync=settings.wal.fsync,
            on_fsync=metrics.observe_fsync,
            accept_wal_loss=settings.wal.accept_loss,
            space_reserve=settings.wal.space_reserve,
            backup=backup_options(settings.backup),
            order_window=settings.storage.order_window,
        )
        return LocalStorage(options)
    if backend == "postgres":
        from rivetq.storage.postgres import PostgresStorage

        return PostgresStorage(settings.storage.dsn, auto_migrate=settings.storage.auto_migrate)
    raise InvalidArgument(
        f"config: storage.backend: {backend!r} is not available in this build", field="storage.backend"
    )


async def _client_gone_response(request: Request, error: Exception) -> Response:
    """A client that went away (or was cut off by a read deadline) mid-body: nobody reads
    this answer, but without it the disconnect would be logged as a server error."""
    return Response(error_body("client_disconnected", "the client left before sending its body"), status_code=400)


def manager_options(settings: Settings) -> ManagerOptions:
    return ManagerOptions(
        dedup_window_ms=settings.queue.dedup_window_ms,
        max_payload_bytes=settings.limits.max_payload_bytes,
        lease_check_interval_ms=settings.queue.lease_check_interval_ms,
    )


class ServedRuntime(Protocol):
    """What ``serve`` needs of a runtime, in one process or in a front."""

    settings: Settings
    metrics: Metrics
    service: QueueService
    storage_view: StorageView
    app: Starlette

    async def start(self) -> None: ...

    async def drain(self) -> None: ...

    async def stop(self) -> None: ...


class Runtime:
    """The server's parts, wired. ``storage`` and ``clock`` may be injected (tests)."""

    def __init__(
        self,
        settings: Settings,
        *,
        storage: Storage | None = None,
        clock: Clock | None = None,
        ui_static_dir: Path = UI_STATIC_DIR,
        on_fatal: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.storage = storage if storage is not None else build_storage(settings, self.metrics)
        self.manager = QueueManager(
            self.storage,
            clock=clock or SystemClock(),
            options=manager_options(settings),
            observer=self.metrics,
            on_fatal=on_fatal,
        )
        self.service: QueueService = self.manager
        self.storage_view: StorageView = LocalStorageView(self.storage)
        self.ready = False
        app = _App(settings, self.manager, self.storage_view, self.metrics, lambda: self.ready)
        self.operations = app.operations()  # the OpenAPI document's source, also for the docs site
        self.app = app.build(self.operations, ui_static_dir)

    async def start(self) -> None:
        await self.storage.open()
        try:
            await self.manager.start()
        except BaseException:
            await self.storage.close()
            raise
        self.ready = True

    async def drain(self) -> None:
        """The first step of shutdown: /readyz fails and long-polls return at once, so
        in-flight requests finish quickly."""
        self.ready = False
        await self.manager.stop()

    async def stop(self) -> None:
        self.ready = False
        try:
            await self.manager.stop()
        finally:
            await self.storage.close()

    async def __aenter__(self) -> Runtime:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.stop()


class FrontRuntime:
    """A front process's parts: the app over a proxy of the owner's manager at
    ``owner_socket``. ``on_owner_lost`` is called if the owner goes away."""

    def __init__(
        self,
        settings: Settings,
        owner_socket: Path,
        *,
        on_owner_lost: Callable[[], None],
        ui_static_dir: Path = UI_STATIC_DIR,
    ) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.proxy = ManagerProxy(max_payload_bytes=settings.limits.max_payload_bytes)
        self.service: QueueService = self.proxy  # type: ignore[assignment]  # methods made from the call table
        self.storage_view: StorageView = self.proxy  # type: ignore[assignment]
        self._owner_socket = owner_socket
        self._on_owner_lost = on_owner_lost
        self.ready = False
        app = _App(settings, self.service, self.storage_view, self.metrics, lambda: self.ready)
        self.app = app.build(app.operations(), ui_static_dir)

    async def start(self) -> None:
        await self.proxy.connect(self._owner_socket, self._on_owner_lost)
        self.ready = True

    async def drain(self) -> None:
        self.ready = False

    async def stop(self) -> None:
        self.ready = False
        self.proxy.close()


@dataclass(frozen=True)
class _App:
    """The Starlette app over a ``QueueService``."""

    settings: Settings
    service: QueueService
    storage_view: StorageView
    metrics: Metrics
    is_ready: Callable[[], bool]

    def operations(self) -> list[Operation]:
        limits = BodyLimits.from_settings(
            self.settings.limits.max_payload_bytes, self.settings.limits.max_request_bytes
        )
        return [
            *JobEndpoints(self.service, limits).operations(),
            *QueueEndpoints(self.service, limits).operations(),
            *QueueDeletionEndpoints(self.service, limits).operations(),
            *DlqEndpoints(self.service, limits).operations(),
            *RateLimitEndpoints(self.service, limits).operations(),
            *ConcurrencyLimitEndpoints(self.service, limits).operations(),
            *ScheduleEndpoints(self.service, limits).operations(),
            *RetryPolicyEndpoints(self.service, limits).operations(),
            *BackupEndpoints(self.service, limits).operations(),
        ]

    def build(self, operations: list[Operation], ui_static_dir: Path) -> Starlette:
        health = HealthEndpoints(self.service, self.storage_view, self.metrics, self.is_ready)
        routes: list[BaseRoute] = [
            *routes_for(operations),
            *health.routes(),
            *openapi_routes(openapi_document(operations, __version__)),
            *ui_routes(ui_static_dir),
        ]
        if self.settings.server.debug_endpoints:
            routes += debug_routes()
        return Starlette(
            routes=routes,
            middleware=self._middleware(routes),
            exception_handlers={
                RivetQError: rivetq_error_response,
                HTTPException: http_exception_response,
                ClientDisconnect: _client_gone_response,
            },
        )

    def _middleware(self, routes: list[BaseRoute]) -> list[Middleware]:
        server, auth = self.settings.server, self.settings.auth
        host, _ = parse_addr(server.http_addr)
        middleware = [Middleware(RequestTimingMiddleware, histogram=self.metrics.http_request_duration)]
        if self.settings.logging.access_log:  # outermost, so refusals (401, 415) are logged too
            middleware.insert(0, Middleware(AccessLogMiddleware))
        if server.cors_allow_origins:
            middleware.append(
                Middleware(
                    CORSMiddleware,
                    allow_origins=list(server.cors_allow_origins),
                    allow_methods=["GET", "POST", "PUT", "DELETE"],
                    allow_headers=["Authorization", "Content-Type"],
                    max_age=600,
                )
            )
        protected = auth.protected_mode and not is_loopback_host(host)
        middleware.append(Middleware(AuthMiddleware, tokens=auth.tokens, protected=protected))
        middleware.append(Middleware(JsonContentTypeMiddleware, routes=routes))
        return middleware
