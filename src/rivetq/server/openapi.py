"""The OpenAPI document, generated from the operation table and the ``rivetq.wire``
types the handlers decode with, and the Swagger UI page served from the
``swagger-ui-bundle`` package (no CDN: the machine may be offline)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import swagger_ui_bundle
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from rivetq import wire
from rivetq.server.rest.operations import Operation

__all__ = ["QUEUE_NAME_PATTERN", "openapi_document", "openapi_routes"]

QUEUE_NAME_PATTERN = "^[A-Za-z0-9_.-]{1,128}$"
_REF = "#/components/schemas/{name}"
_PATH_PARAMS: dict[str, dict[str, Any]] = {
    "queue": {"type": "string", "pattern": QUEUE_NAME_PATTERN},
    "job_id": {"type": "string", "minLength": 1, "maxLength": 128},
}
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
        "info": {"title": "RivetQ", "version": version, "description": "A durable task queue server."},
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
        return HTMLResponse(_DOCS_PAGE)

    return [
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Mount("/docs/static", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path)),
    ]
