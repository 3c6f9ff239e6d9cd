"""MkDocs hooks (mkdocs.yml `hooks:`): pages that are generated from the code, so they
cannot drift from it.

- ``<!-- rivetq:settings -->`` in a page becomes the configuration table
  (``rivetq.settings_reference``);
- ``docs/reference/openapi.json`` is the OpenAPI document rivetqd serves, written before
  each build for the REST reference page (neoteroi's ``[OAD(...)]``) and published with
  the site.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rivetq._version import __version__
from rivetq.server.app import Runtime
from rivetq.server.openapi import openapi_document
from rivetq.settings import load_settings
from rivetq.settings_reference import markdown_table

OPENAPI_PATH = Path(__file__).resolve().parents[1] / "docs" / "reference" / "openapi.json"
SETTINGS_MARKER = "<!-- rivetq:settings -->"


def on_config(config: Any) -> Any:
    runtime = Runtime(load_settings(env={}, overrides={"storage.backend": "memory"}))
    text = json.dumps(openapi_document(runtime.operations, __version__), indent=2) + "\n"
    # Written only when it changed: `mkdocs serve` rebuilds on every write it sees.
    if not OPENAPI_PATH.is_file() or OPENAPI_PATH.read_text(encoding="utf-8") != text:
        OPENAPI_PATH.parent.mkdir(exist_ok=True)
        OPENAPI_PATH.write_text(text, encoding="utf-8")
    return config


def on_page_markdown(markdown: str, **_: Any) -> str:
    return markdown.replace(SETTINGS_MARKER, markdown_table()) if SETTINGS_MARKER in markdown else markdown
