"""rivetqctl: the RivetQ command line client.

Exit status: 0 success, 1 an API or connection error (one line on stderr:
``error: <code>: <message>``), 2 a usage error.
"""

from __future__ import annotations

import click

from rivetq._version import __version__
from rivetq.cli import ctl_jobs, ctl_limits, ctl_ops, ctl_queues, ctl_schedules
from rivetq.cli.ctl_context import CtlGroup, CtlState

__all__ = ["cli", "main"]

DEFAULT_SERVER = "http://127.0.0.1:8080"


def _server_url(context: click.Context, parameter: click.Parameter, url: str) -> str:
    """A mistyped address is a usage error (exit 2), not a failed connection."""
    if not url.startswith(("http://", "https://")):
        raise click.BadParameter(f"{url!r} is not an http:// or https:// URL, e.g. {DEFAULT_SERVER}")
    return url


@click.group(cls=CtlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--server",
    envvar="RIVETQ_URL",
    default=DEFAULT_SERVER,
    show_default=True,
    callback=_server_url,
    help="Server URL (RIVETQ_URL).",
)
@click.option("--token", envvar="RIVETQ_TOKEN", help="Bearer token (RIVETQ_TOKEN).")
@click.option("--json", "json_output", is_flag=True, help="Print JSON for scripts.")
@click.version_option(__version__)
@click.pass_context
def cli(ctx: click.Context, server: str, token: str | None, json_output: bool) -> None:
    """Talk to a RivetQ server: enqueue, lease, ack, inspect queues, run a worker."""
    ctx.obj = CtlState(server=server, token=token or None, json=json_output)


for command in [
    *ctl_jobs.COMMANDS,
    *ctl_queues.COMMANDS,
    *ctl_limits.COMMANDS,
    *ctl_schedules.COMMANDS,
    *ctl_ops.COMMANDS,
]:
    cli.add_command(command)


def main() -> None:
    cli(prog_name="rivetqctl")
