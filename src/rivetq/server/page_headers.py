"""Headers for the pages a browser renders (the admin UI and the API docs): no framing by
other sites (clickjacking: a click on a hidden frame could pause or purge a queue), no
content-type guessing, no referrer to other sites."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["PAGE_HEADERS", "with_page_headers"]

PAGE_HEADERS = {
    "content-security-policy": "frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
_RAW = [(name.encode(), value.encode()) for name, value in PAGE_HEADERS.items()]


def with_page_headers(app: ASGIApp) -> ASGIApp:
    """``app`` with ``PAGE_HEADERS`` on every response it starts."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *_RAW]}
            await send(message)

        await app(scope, receive, send_with_headers)

    return wrapped
