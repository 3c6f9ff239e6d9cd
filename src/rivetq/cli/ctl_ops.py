"""rivetqctl commands that run something locally: ``worker`` and ``wal verify``."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from rivetq.cli.ctl_context import CtlState, emit, json_option, pass_state
from rivetq.cli.ctl_jobs import queue_option

__all__ = ["COMMANDS", "load_handler"]


def load_handler(target: str) -> Callable[..., Any]:
    """``package.module:function`` → the function (the current directory is importable)."""
    module_name, _, function_name = target.partition(":")
    if not module_name or not function_name:
        raise click.BadParameter("expected MODULE:FUNCTION, e.g. myapp.tasks:send_email", param_hint="TARGET")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as error:
        raise click.BadParameter(f"cannot load {target}: {error}", param_hint="TARGET") from None
    if not callable(handler):
        raise click.BadParameter(f"{target} is not callable", param_hint="TARGET")
    return handler  # type: ignore[no-any-return]


@click.command()
@click.argument("target")
@queue_option
@click.option("--concurrency", default=1, show_default=True, help="Handlers running at once.")
@click.option("--visibility", "visibility_ms", default=30_000, show_default=True, help="Lease length (ms).")
@click.option("--wait", "wait_ms", default=1_000, show_default=True, help="Long-poll of each lease call (ms).")
@click.option("--grace", "grace_period_s", default=30.0, show_default=True, help="Drain time on SIGTERM (s).")
@pass_state
def worker(
    state: CtlState,
    target: str,
    queue: str,
    concurrency: int,
    visibility_ms: int,
    wait_ms: int,
    grace_period_s: float,
) -> None:
    """Run TARGET (MODULE:FUNCTION, called with each Job) on a queue's jobs until SIGTERM.

    A coroutine function runs on an asyncio loop; a plain function runs in threads."""
    handler = load_handler(target)
    options = {
        "concurrency": concurrency,
        "visibility_ms": visibility_ms,
        "wait_ms": wait_ms,
        "grace_period_s": grace_period_s,
    }
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if inspect.iscoroutinefunction(handler):
        asyncio.run(_run_async(state, queue, handler, options))
        return
    from rivetq.client import Worker

    Worker(state.client(), queue, handler, **options).run()


async def _run_async(state: CtlState, queue: str, handler: Callable[..., Any], options: dict[str, Any]) -> None:
    from rivetq.client import AsyncClient, AsyncWorker

    async with AsyncClient(state.server, token=state.token) as client:
        await AsyncWorker(client, queue, handler, **options).run()


@click.group()
def wal() -> None:
    """The embedded engine's write-ahead log."""


@wal.command("verify")
@click.option("--data-dir", required=True, type=click.Path(path_type=Path), help="The server's storage.data_dir.")
@click.option("--force", is_flag=True, help="Check even while a running server holds the directory.")
@json_option
@pass_state
def wal_verify(state: CtlState, data_dir: Path, force: bool) -> None:
    """Check a stopped server's data directory: exit 0 intact, 1 damaged, 2 not checked
    (it does not exist or is not a data directory, e.g. a backup; or a running server
    holds it: --force checks it anyway)."""
    from rivetq.storage.local.verify import EXIT_NOT_CHECKED, NotChecked, check_data_dir

    try:
        report = check_data_dir(data_dir, force=force)
    except NotChecked as error:
        click.echo(str(error), err=True)
        raise SystemExit(EXIT_NOT_CHECKED) from None
    document = {"ok": report.ok, "problems": report.problems, "in_use_by": report.in_use_by}
    emit(state, document, lambda: click.echo("\n".join(report.lines())))
    if report.exit_code:
        raise SystemExit(report.exit_code)


@click.command()
@click.argument("dest")
@json_option
@pass_state
def backup(state: CtlState, dest: str) -> None:
    """Write an online backup of the running server to DEST: an absolute directory path on
    the server's host or s3://bucket/prefix (restore it with rivetqd restore DEST --data-dir DIR)."""
    result = state.client().backup(dest)
    document = {"url": result.url, "snapshot_lsn": result.snapshot_lsn, "last_lsn": result.last_lsn}
    emit(state, document, lambda: click.echo(f"backup written to {result.url}: up to LSN {result.last_lsn}"))


COMMANDS = [worker, wal, backup]
