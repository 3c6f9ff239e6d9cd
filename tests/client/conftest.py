from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.client.support import make_client, server
from tests.e2e.server import RunningServer

__all__ = ["api", "server"]


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest, server: RunningServer) -> Iterator[Any]:
    """A ``Client`` or an ``AsyncClient`` (behind a blocking facade) on the module's server."""
    client = make_client(request.param, server.url)
    yield client
    client.close()
