"""Structured logs: JSON or console lines, level filtering, redaction, stdlib forwarding."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from rivetq.server.logging import configure_logging
from rivetq.settings import LoggingSettings


@pytest.fixture
def stream() -> Iterator[io.TextIOWrapper]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    text = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    try:
        yield text
    finally:
        structlog.reset_defaults()
        root.handlers, root.level = handlers, level


def _lines(stream: io.TextIOWrapper) -> list[str]:
    buffer = stream.buffer
    assert isinstance(buffer, io.BytesIO)
    return buffer.getvalue().decode().splitlines()


def test_json_logs_are_one_object_per_line_with_level_and_utc_time(stream: io.TextIOWrapper) -> None:
    configure_logging(LoggingSettings(level="info", format="json"), stream)
    structlog.get_logger("t").info("job_leased", job_id="j1", queue="emails")
    [line] = _lines(stream)
    event = json.loads(line)
    assert (event["event"], event["job_id"], event["queue"], event["level"]) == ("job_leased", "j1", "emails", "info")
    assert event["timestamp"].endswith("Z")


def test_logs_below_the_level_are_dropped(stream: io.TextIOWrapper) -> None:
    configure_logging(LoggingSettings(level="warning", format="json"), stream)
    structlog.get_logger("t").info("quiet")
    structlog.get_logger("t").warning("loud")
    assert [json.loads(line)["event"] for line in _lines(stream)] == ["loud"]


def test_secrets_and_payloads_are_redacted(stream: io.TextIOWrapper) -> None:
    configure_logging(LoggingSettings(level="debug", format="json"), stream)
    structlog.get_logger("t").info("oops", token="tok-secret", authorization="Bearer tok-secret", payload={"pw": 1})
    [line] = _lines(stream)
    assert "tok-secret" not in line and '"pw"' not in line
    assert json.loads(line)["token"] == "[redacted]"


def test_console_logs_are_readable_lines(stream: io.TextIOWrapper) -> None:
    configure_logging(LoggingSettings(level="info", format="console"), stream)
    structlog.get_logger("t").info("rivetqd_started", http="http://127.0.0.1:8080")
    stream.flush()
    [line] = _lines(stream)
    assert "rivetqd_started" in line and "http=http://127.0.0.1:8080" in line


def test_stdlib_records_join_the_same_pipeline(stream: io.TextIOWrapper) -> None:
    configure_logging(LoggingSettings(level="info", format="json"), stream)
    logging.getLogger("rivetq.manager").warning("background loop %s died", "lease_reaper")
    [line] = _lines(stream)
    event = json.loads(line)
    assert (event["event"], event["logger"], event["level"]) == ("background loop lease_reaper died", "rivetq.manager",
                                                                  "warning")  # fmt: skip


def test_uvicorns_lines_show_as_uvicorn_and_its_info_chatter_at_debug(stream: io.TextIOWrapper) -> None:
    """They were logged as ``uvicorn.error`` at info, repeating rivetqd_started/_stopped."""
    configure_logging(LoggingSettings(level="debug", format="json"), stream)
    uvicorn = logging.getLogger("uvicorn.error")
    uvicorn.info("Started server process [%d]", 42)
    uvicorn.warning("Invalid HTTP request received.")
    events = [json.loads(line) for line in _lines(stream)]
    assert [(e["logger"], e["level"], e["event"]) for e in events] == [
        ("uvicorn", "debug", "Started server process [42]"), ("uvicorn", "warning", "Invalid HTTP request received.")
    ]  # fmt: skip


def test_at_info_uvicorn_says_only_what_matters(stream: io.TextIOWrapper) -> None:
    configure_logging(LoggingSettings(level="info", format="json"), stream)
    logging.getLogger("uvicorn.error").info("Shutting down")
    assert _lines(stream) == []
