"""Startup warnings of rivetqd when it is reachable beyond this machine."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from rivetq.server.serve import _warn_exposure
from tests.server.conftest import settings_with


@pytest.mark.parametrize(
    ("overrides", "host", "event"),
    [
        ({}, "0.0.0.0", "rivetqd_protected_mode"),
        ({"auth.protected_mode": False}, "10.0.0.1", "rivetqd_no_auth"),
        ({"auth.tokens": ["t"]}, "0.0.0.0", "rivetqd_tokens_without_tls"),
        ({}, "127.0.0.1", None),
        ({"auth.tokens": ["t"], "server.tls_cert_file": "c", "server.tls_key_file": "k"}, "0.0.0.0", None),
    ],
)
def test_startup_warns_about_exposure(overrides: dict[str, object], host: str, event: str | None) -> None:
    with capture_logs() as logs:
        _warn_exposure(settings_with(**overrides), host)
    assert [entry["event"] for entry in logs] == ([event] if event else [])
    assert all(entry["log_level"] == "warning" for entry in logs)
