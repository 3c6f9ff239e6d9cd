"""Startup warnings of rivetqd when it is reachable beyond this machine or a ``RIVETQ_*``
variable sets nothing; a background loop that dies stops the server even while it is
still starting."""

from __future__ import annotations

from pathlib import Path

import pytest
import uvicorn
from structlog.testing import capture_logs

from rivetq.server.serve import Fatal, _warn_exposure, _warn_unknown_env
from tests.e2e.server import self_signed_certificate
from tests.server.conftest import settings_with


@pytest.mark.parametrize(
    ("overrides", "host", "event"),
    [
        ({}, "0.0.0.0", "rivetqd_protected_mode"),
        ({"auth.protected_mode": False}, "10.0.0.1", "rivetqd_no_auth"),
        ({"auth.tokens": ["t"]}, "0.0.0.0", "rivetqd_tokens_without_tls"),
        ({}, "127.0.0.1", None),
        ({"auth.tokens": ["t"], "server.tls_cert_file": "CERT", "server.tls_key_file": "KEY"}, "0.0.0.0", None),
    ],
)
def test_startup_warns_about_exposure(
    overrides: dict[str, object], host: str, event: str | None, tmp_path: Path
) -> None:
    cert, key = self_signed_certificate(tmp_path)
    overrides = {name: {"CERT": str(cert), "KEY": str(key)}.get(str(value), value) for name, value in overrides.items()}
    with capture_logs() as logs:
        _warn_exposure(settings_with(**overrides), host)
    assert [entry["event"] for entry in logs] == ([event] if event else [])
    assert all(entry["log_level"] == "warning" for entry in logs)


def test_startup_warns_about_rivetq_variables_that_set_nothing() -> None:
    env = {
        "RIVETQ_WAL_FSINC": "false",
        "RIVETQ_COLOUR": "blue",
        "RIVETQ_WAL_FSYNC": "false",
        "RIVETQ_URL": "http://q:8080",
        "RIVETQ_TOKEN": "t",
        "RIVETQ_CONFIG": "c.yaml",
        "PATH": "/bin",
    }
    with capture_logs() as logs:
        _warn_unknown_env(env)
    assert [(entry["event"], entry["variable"], entry["did_you_mean"]) for entry in logs] == [
        ("rivetqd_unknown_env", "RIVETQ_COLOUR", None),
        ("rivetqd_unknown_env", "RIVETQ_WAL_FSINC", "RIVETQ_WAL_FSYNC"),
    ]
    assert all(entry["log_level"] == "warning" for entry in logs)


@pytest.mark.parametrize("dies_before_attach", [True, False], ids=["during-startup", "while-serving"])
def test_a_dead_background_loop_stops_the_server(dies_before_attach: bool) -> None:
    fatal, server = Fatal(), uvicorn.Server(uvicorn.Config("unused:app"))
    boom = RuntimeError("reaper died")
    with capture_logs() as logs:
        if dies_before_attach:
            fatal(boom)
        fatal.attach(server)
        assert server.should_exit is dies_before_attach
        if not dies_before_attach:
            fatal(boom)
    assert server.should_exit and fatal.error is boom
    assert [(entry["event"], entry["log_level"]) for entry in logs] == [("rivetqd_background_loop_died", "error")]
