"""Structured logs with structlog's own pipeline (not through stdlib handlers): console
lines for people, JSON lines (orjson) for machines. Secrets and payloads never reach a
line: fields with those names are redacted whatever a caller passes.

Whatever logs through the stdlib (the manager, uvicorn, asyncio, grpc) is forwarded into
the same pipeline, so every line has one format.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import orjson
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from rivetq.settings import LoggingSettings

__all__ = ["configure_logging"]

_REDACTED_FIELDS = frozenset({"token", "tokens", "authorization", "payload", "password", "dsn"})
_UVICORN_GENERAL = "uvicorn.error"


def _redact(logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
    for name in _REDACTED_FIELDS.intersection(event):
        event[name] = "[redacted]"
    return event


def _orjson_dumps(event: MutableMapping[str, Any], **_: Any) -> bytes:
    return orjson.dumps(event, default=str)


class _ToStructlog(logging.Handler):
    """Forwards stdlib records (uvicorn's, asyncio's) into the structlog pipeline."""

    def emit(self, record: logging.LogRecord) -> None:
        name, level = _source(record)
        fields: dict[str, Any] = {"logger": name}
        if record.exc_info:
            fields["exc_info"] = record.exc_info
        structlog.get_logger(name).log(level, record.getMessage(), **fields)


def _source(record: logging.LogRecord) -> tuple[str, int]:
    """uvicorn logs everything, errors or not, as ``uvicorn.error``: its lines show as
    ``uvicorn``, and its info lines (``Started server process``, ``Shutting down``) at
    debug, since ``rivetqd_started`` / ``_stopping`` / ``_stopped`` say the same."""
    if record.name != _UVICORN_GENERAL:
        return record.name, record.levelno
    return "uvicorn", logging.DEBUG if record.levelno == logging.INFO else record.levelno


def configure_logging(settings: LoggingSettings, stream: TextIO | None = None) -> None:
    """Configure once, at the composition root (``rivetqd``), never at import time."""
    stream = stream or sys.stderr
    level = logging.getLevelNamesMapping()[settings.level.upper()]
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    if settings.format == "json":
        processors: list[Processor] = [
            *shared,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(_orjson_dumps),
        ]
        factory: Any = structlog.BytesLoggerFactory(stream.buffer)
    else:
        processors = [*shared, structlog.dev.ConsoleRenderer(colors=False)]
        factory = structlog.PrintLoggerFactory(stream)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    root.handlers = [_ToStructlog()]
    root.setLevel(level)
