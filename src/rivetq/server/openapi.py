"""The OpenAPI document, generated from the operation table and the ``rivetq.wire``
types the handlers decode with, and the Swagger UI page: Swagger UI 5 (it reads OpenAPI
3.1) from the ``swagger-ui-py`` package's files, no CDN (the machine may be offline)."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from rivetq import wire
from rivetq.server.page_headers import PAGE_HEADERS
from rivetq.server.rest.operations import Operation

__all__ = ["QUEUE_NAME_PATTERN", "openapi_document", "openapi_routes"]

QUEUE_NAME_PATTERN = r"^(?!\.\.?$)[A-Za-z0-9_.-]{1,128}$"
_REF = "#/components/schemas/{name}"
_DESCRIPTION = (
    "A durable task queue server. Every POST says Content-Type: application/json. An integer field "
    "takes an integral number written as a float (30000.0, 3e4), as JSON Schema's integer does; "
    'strings ("30000") and fractions (2.5) are refused.'
)
_PATH_PARAMS: dict[str, dict[str, Any]] = {
    "queue": {"type": "string", "pattern": QUEUE_NAME_PATTERN},
    "name": {"type": "string", "pattern": QUEUE_NAME_PATTERN},  # a schedule's: the same rule
    "job_id": {"type": "string", "minLength": 1, "maxLength": 128},
}
# Only the two files the page needs: the package also holds a stock page that loads a
# demo API from the internet, and the Swagger Editor.
_SWAGGER_FILES = ("swagger-ui.css", "swagger-ui-bundle.js")
_DOCS_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>RivetQ API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true});</script>
</body></html>
"""


def openapi_document(operations: Sequence[Operation], version: str) -> dict[str, Any]:
    types = sorted({t for op in operations for t in (op.body, op.response) if t is not None}, key=lambda t: t.__name__)
    refs, schemas = msgspec.json.schema_components([*types, wire.ErrorResponse], ref_template=_REF)
    ref_of = {t: ref for t, ref in zip([*types, wire.ErrorResponse], refs, strict=True)}
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, ref_of)
    return {
        "openapi": "3.1.0",
        "info": {"title": "RivetQ", "version": version, "description": _DESCRIPTION},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{}, {"bearerAuth": []}],
    }


def _operation(op: Operation, ref_of: dict[type, Any]) -> dict[str, Any]:
    json_of = {"content": {"application/json": {"schema": ref_of[op.response]}}}
    statuses = (op.status, *op.other_statuses)
    responses: dict[str, Any] = {str(status): {"description": "success", **json_of} for status in statuses}
    responses["default"] = {
        "description": "error",
        "content": {"application/json": {"schema": ref_of[wire.ErrorResponse]}},
    }
    params = [
        {"name": name, "in": "path", "required": True, "schema": schema}
        for name, schema in _PATH_PARAMS.items()
        if "{" + name + "}" in op.path
    ]
    params += [{"name": q.name, "in": "query", "schema": q.schema, "description": q.description} for q in op.query]
    result: dict[str, Any] = {
        "summary": op.summary,
        "operationId": op.endpoint.__name__,
        "tags": [op.tag],
        "responses": responses,
    }
    if params:
        result["parameters"] = params
    if op.body is not None:
        result["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref_of[op.body]}}}
    return result


def openapi_routes(document: dict[str, Any]) -> list[BaseRoute]:
    body = msgspec.json.encode(document)

    async def openapi_json(request: Request) -> Response:
        return Response(body, media_type="application/json")

    async def docs(request: Request) -> Response:
        return HTMLResponse(_DOCS_PAGE, headers=PAGE_HEADERS)

    return [
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        *(_static_file(name) for name in _SWAGGER_FILES),
    ]


def _static_file(name: str) -> Route:
    path = _swagger_ui_dir() / name

    async def serve(request: Request) -> Response:
        return FileResponse(path)

    return Route(f"/docs/static/{name}", serve, methods=["GET", "HEAD"])


def _swagger_ui_dir() -> Path:
    """The package's ``static`` directory, found without importing it (its ``__init__``
    pulls in the web-framework adapters we do not use)."""
    spec = importlib.util.find_spec("swagger_ui")
    assert spec is not None and spec.submodule_search_locations, "swagger-ui-py is a server dependency"
    return Path(spec.submodule_search_locations[0]) / "static"
