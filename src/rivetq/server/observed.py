"""A base for ASGI middleware that observes each HTTP request once it has been answered:
its scope, the response status (500 when no response started) and the time it took.

When the HTTP protocol refuses a request while the app is still reading it (a body sent
too slowly gets 408), the client sees the protocol's answer, not the app's: the protocol
notes that answer in the scope under ``REFUSED`` and the status observed is its status."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["REFUSED", "RequestObserver"]

REFUSED = "rivetq.refused"  # scope key: (status, code) of the protocol's refusal


class RequestObserver:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    def observe(self, scope: Scope, status: int, elapsed_s: float) -> None:
        raise NotImplementedError

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, send_and_note_status)
        finally:
            refused = scope.get(REFUSED)
            self.observe(scope, status if refused is None else refused[0], time.perf_counter() - started)
