"""End-to-end tests: a real ``rivetqd`` subprocess (see ``tests/e2e/server.py``)."""

from tests.e2e.server import servers

__all__ = ["servers"]
