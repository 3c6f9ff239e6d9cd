"""``rivetqd``: the RivetQ server.

Settings come from defaults < config.yaml < RIVETQ_* environment < these flags. Server
modules are imported only after the flags parse, so ``--help`` stays fast, and a server
module missing (rivetq installed without the ``server`` extra) is one line, not a traceback.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from rivetq._version import __version__

if TYPE_CHECKING:
    from rivetq.settings import Settings

__all__ = ["main"]

_DEFAULT_CONFIG = Path("config.yaml")


def _config_path(given: str | None) -> Path | None:
    """The file ``--config``/``RIVETQ_CONFIG`` names (it must exist), else ./config.yaml if any."""
    if given:
        return Path(given)
    return _DEFAULT_CONFIG if _DEFAULT_CONFIG.is_file() else None


@contextlib.contextmanager
def _server_extra_needed() -> Iterator[None]:
    """Turn a missing third-party module (the ``server`` extra not installed) into one line
    and exit status 2; a missing ``rivetq`` module is a bug and keeps its traceback."""
    try:
        yield
    except ModuleNotFoundError as error:
        if error.name is None or error.name.partition(".")[0] == "rivetq":
            raise
        click.echo(
            f"rivetqd: needs the server extra: pip install 'rivetq[server]' (missing module {error.name})", err=True
        )
        sys.exit(2)


class _Boolean(click.ParamType[bool]):
    """The boolean words the config file and the environment take (click's own BOOL also
    takes an empty value and lists it first among the recognized ones)."""

    name = "boolean"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> bool:
        if isinstance(value, bool):  # the flag given without a value
            return value
        with _server_extra_needed():
            from rivetq.settings import parse_bool

        try:
            return parse_bool(str(value))
        except ValueError:
            self.fail(f"expected true/false, yes/no, on/off or 1/0, got {value!r}", param, ctx)


def _fsync_flag(fsync: bool | None, no_fsync: bool) -> bool | None:
    if no_fsync and fsync:
        raise click.UsageError("--fsync and --no-fsync contradict each other")
    return False if no_fsync else fsync


def _restore(settings: Settings, command: str | None, source: str | None, restore_to: str | None) -> None:
    from rivetq.backup.restore import parse_time_ms, restore
    from rivetq.errors import RivetQError
    from rivetq.storage.local import LocalOptions

    if command != "restore" or source is None:
        raise click.UsageError("expected: rivetqd restore SOURCE --data-dir DIR [--to TIME]")
    try:
        to_ms = None if restore_to is None else parse_time_ms(restore_to)
        backup = settings.backup
        engine = LocalOptions(
            Path(settings.storage.data_dir),
            segment_size=settings.wal.segment_size,
            space_reserve=settings.wal.space_reserve,
        )
        report = restore(
            source, engine.data_dir, to_ms=to_ms, endpoint=backup.endpoint, region=backup.region, engine=engine
        )
    except RivetQError as error:
        click.echo(f"rivetqd restore: {error}", err=True)
        sys.exit(1)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(report.summary(settings.storage.data_dir))
    sys.exit(0)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config", "config", envvar="RIVETQ_CONFIG", help="YAML config file (default: ./config.yaml if present)."
)
@click.option("--data-dir", help="Directory of the embedded storage (storage.data_dir).")
@click.option("--http-addr", help="REST/metrics/UI listen address, e.g. 127.0.0.1:8080 (server.http_addr).")
@click.option("--grpc-addr", help='gRPC listen address; "" disables gRPC (server.grpc_addr).')
@click.option("--log-level", help="debug, info, warning or error (logging.level).")
@click.option("--log-format", help="console or json (logging.format).")
@click.option(
    "--access-log/--no-access-log",
    default=None,
    help="One info line per HTTP request and gRPC call (logging.access_log).",
)
@click.option(
    "--fsync",
    type=_Boolean(),
    is_flag=False,
    flag_value=True,
    default=None,
    help="fdatasync before acknowledging writes (wal.fsync); --fsync=false to disable.",
)
@click.option("--no-fsync", is_flag=True, help="Same as --fsync=false.")
@click.option("--storage-backend", help="local, memory or postgres (storage.backend).")
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    help="Processes serving HTTP and gRPC; 0 (the default): one per core from 4 cores up, else 1 (server.workers).",
)
@click.option(
    "--accept-wal-loss",
    is_flag=True,
    default=None,
    help="Start even though WAL segments are missing or cut, logging what was lost (wal.accept_loss).",
)
@click.option(
    "--to",
    "restore_to",
    metavar="TIME",
    help="restore: the state as of this time (RFC 3339, e.g. 2026-01-02T15:04:05Z), not the latest.",
)
@click.argument("command", required=False, type=click.Choice(["migrate", "restore"]))
@click.argument("source", required=False)
@click.version_option(__version__)
@_server_extra_needed()
def main(
    config: str | None,
    data_dir: str | None,
    http_addr: str | None,
    grpc_addr: str | None,
    log_level: str | None,
    log_format: str | None,
    access_log: bool | None,
    fsync: bool | None,
    no_fsync: bool,
    storage_backend: str | None,
    workers: int | None,
    accept_wal_loss: bool | None,
    restore_to: str | None,
    command: str | None,
    source: str | None,
) -> None:
    """Run the RivetQ server until SIGTERM or SIGINT.

    rivetqd migrate: bring the PostgreSQL schema (storage.dsn) up to date, then exit.

    rivetqd restore SOURCE --data-dir DIR [--to TIME]: rebuild an empty data directory
    from a backup (a directory or s3://bucket/prefix), then exit.
    """
    from rivetq.errors import RivetQError
    from rivetq.settings import load_settings

    overrides = {
        "storage.data_dir": data_dir,
        "server.http_addr": http_addr,
        "server.grpc_addr": grpc_addr,
        "logging.level": log_level,
        "logging.format": log_format,
        "logging.access_log": access_log,
        "wal.fsync": _fsync_flag(fsync, no_fsync),
        "storage.backend": storage_backend,
        "server.workers": workers,
        "wal.accept_loss": accept_wal_loss,
    }
    try:
        settings = load_settings(config_path=_config_path(config), overrides=overrides)
    except RivetQError as error:
        click.echo(f"rivetqd: {error}", err=True)
        sys.exit(2)
    if command == "migrate":
        from rivetq.storage.postgres.migrate import migrate_command

        sys.exit(migrate_command(settings.storage.dsn, lambda line: click.echo(line, err=True)))
    if command == "restore" or source is not None or restore_to is not None:
        _restore(settings, command, source, restore_to)

    import uvloop

    from rivetq.server.logging import configure_logging
    from rivetq.server.serve import serve

    configure_logging(settings.logging)
    sys.exit(uvloop.run(serve(settings)))
