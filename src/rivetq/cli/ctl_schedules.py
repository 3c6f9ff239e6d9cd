"""rivetqctl schedule put|get|list|delete|pause|resume|run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import click

from rivetq.cli.ctl_context import CtlState, emit, human_text, json_option, pass_state, print_record, print_table
from rivetq.cli.ctl_jobs import header_option, json_payload, queue_option

if TYPE_CHECKING:
    from rivetq.client import Schedule

__all__ = ["COMMANDS"]

_name = click.argument("name")


def _when(schedule: Schedule) -> str:
    return schedule.cron or f"every {schedule.interval_ms} ms"


@click.group()
def schedule() -> None:
    """Schedules: enqueue a job on a cron expression or an interval."""


@schedule.command("put")
@_name
@queue_option
@click.option("-p", "--payload", required=True, callback=json_payload, help="Job payload (JSON).")
@click.option("--cron", help="5 fields or @hourly, @daily, ... (exclusive with --interval-ms).")
@click.option("--interval-ms", type=int, help="Every this many ms (at least 1000).")
@click.option("--timezone", default="UTC", show_default=True, help="IANA time zone of --cron.")
@click.option("--priority", default=5, show_default=True)
@click.option("--max-retries", default=3, show_default=True)
@header_option
@click.option("--catchup", type=click.Choice(["skip", "all"]), default="skip", show_default=True,
              help="Missed ticks: one run for the latest, or one each (up to 100).")  # fmt: skip
@click.option("--paused", is_flag=True, help="Create it paused.")
@json_option
@pass_state
def schedule_put(
    state: CtlState,
    name: str,
    queue: str,
    payload: Any,
    cron: str | None,
    interval_ms: int | None,
    timezone: str,
    priority: int,
    max_retries: int,
    headers: dict[str, str] | None,
    catchup: Literal["skip", "all"],
    paused: bool,
) -> None:
    """Create or replace a schedule; prints its next run."""
    found = state.client().put_schedule(
        name,
        queue,
        payload,
        cron=cron,
        interval_ms=interval_ms,
        timezone=timezone,
        priority=priority,
        max_retries=max_retries,
        headers=headers,
        catchup=catchup,
        paused=paused,
    )
    emit(state, found, lambda: click.echo(f"saved schedule {name}; next run at {human_text(found.next_run_at)}"))


@schedule.command("get")
@_name
@json_option
@pass_state
def schedule_get(state: CtlState, name: str) -> None:
    """Show a schedule."""
    found = state.client().get_schedule(name)
    emit(state, found, lambda: print_record(found, json_fields=("headers", "payload")))


@schedule.command("list")
@json_option
@pass_state
def schedule_list(state: CtlState) -> None:
    """Every schedule with its next run."""
    found = state.client().list_schedules()
    rows = [[s.name, s.queue, _when(s), s.timezone, s.next_run_at, s.runs_total, s.paused] for s in found]
    emit(
        state,
        {"schedules": found},
        lambda: print_table(["NAME", "QUEUE", "WHEN", "TZ", "NEXT", "RUNS", "PAUSED"], rows, "no schedules"),
    )


def _action(verb: str, help_text: str) -> click.Command:
    @schedule.command(verb, help=help_text)
    @_name
    @json_option
    @pass_state
    def command(state: CtlState, name: str) -> None:
        client = state.client()
        found = {"pause": client.pause_schedule, "resume": client.resume_schedule}[verb](name)
        emit(state, found, lambda: click.echo(f"{verb}d schedule {name}; next run at {human_text(found.next_run_at)}"))

    return command


_action("pause", "Skip a schedule's ticks until resumed.")
_action("resume", "Run a schedule again from its next tick.")


@schedule.command("run")
@_name
@json_option
@pass_state
def schedule_run(state: CtlState, name: str) -> None:
    """Enqueue a schedule's job now; prints the job id."""
    job_id = state.client().run_schedule(name)
    emit(state, {"job_id": job_id}, lambda: click.echo(f"enqueued job {job_id}"))


@schedule.command("delete")
@_name
@json_option
@pass_state
def schedule_delete(state: CtlState, name: str) -> None:
    """Delete a schedule."""
    state.client().delete_schedule(name)
    emit(state, {"success": True}, lambda: click.echo(f"deleted schedule {name}"))


COMMANDS = [schedule]
