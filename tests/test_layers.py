"""Imports point down only (docs/architecture.md): leaf modules use the stdlib and
msgspec; storage never imports the manager or the server; the SDK never imports the
server, the manager or storage."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "rivetq"

LEAVES = ["errors", "models", "clock", "ids", "retry", "ratelimit", "wire"]

FORBIDDEN: dict[str, tuple[str, ...]] = {
    **{leaf: ("rivetq.manager", "rivetq.storage", "rivetq.server", "rivetq.client", "rivetq.cli") for leaf in LEAVES},
    "storage": ("rivetq.manager", "rivetq.server", "rivetq.client", "rivetq.cli"),
    "manager": ("rivetq.server", "rivetq.client", "rivetq.cli", "prometheus_client", "starlette"),
    "client": ("rivetq.server", "rivetq.manager", "rivetq.storage", "rivetq.settings", "starlette", "uvicorn"),
}

# The generated gRPC messages are the protocol, shared by the server and the SDK's gRPC
# client (their package's __init__ modules import nothing), not server code.
SHARED_PROTOCOL = ("rivetq.server.grpc._pb",)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _files(part: str) -> list[Path]:
    target = PACKAGE / part
    if target.is_dir():
        return sorted(target.rglob("*.py"))
    return [target.with_suffix(".py")]


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_layers_imports_point_down(part: str) -> None:
    files = [f for f in _files(part) if f.exists() and "_pb" not in f.parts]
    assert files, f"{part} has no modules"
    for file in files:
        bad = {
            name for name in _imports(file) if name.startswith(FORBIDDEN[part]) and not name.startswith(SHARED_PROTOCOL)
        }
        assert not bad, f"{file.relative_to(PACKAGE)} imports {sorted(bad)}"
