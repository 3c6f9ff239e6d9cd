"""The admin UI: the static export under ``server/ui_static/`` (built by ``make ui``)
served at ``/ui/``; ``/`` redirects there."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from rivetq.server.page_headers import PAGE_HEADERS, with_page_headers

__all__ = ["UI_STATIC_DIR", "ui_routes"]

UI_STATIC_DIR = Path(__file__).resolve().parent / "ui_static"
_MISSING_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>RivetQ UI not built</title></head>
<body><h1>The RivetQ admin UI is not built</h1>
<p>Run <code>make ui</code> in the repository (it builds the UI into
<code>src/rivetq/server/ui_static/</code>), then restart <code>rivetqd</code>.
The API, <a href="/docs">/docs</a> and <a href="/metrics">/metrics</a> work without it.</p>
</body></html>
"""


async def _to_ui(request: Request) -> Response:
    return RedirectResponse("/ui/", status_code=307)


async def _ui_missing(request: Request) -> Response:
    return HTMLResponse(_MISSING_PAGE, status_code=404, headers=PAGE_HEADERS)


def ui_routes(static_dir: Path = UI_STATIC_DIR) -> list[BaseRoute]:
    redirects: list[BaseRoute] = [Route("/", _to_ui, methods=["GET"]), Route("/ui", _to_ui, methods=["GET"])]
    if static_dir.is_dir():
        return [*redirects, Mount("/ui", with_page_headers(StaticFiles(directory=static_dir, html=True)))]
    return [*redirects, Route("/ui/{path:path}", _ui_missing, methods=["GET"])]
