"""rivetqctl concurrency-limit set|get|delete: a queue's limit on jobs in flight."""

from __future__ import annotations

import click

from rivetq.cli.ctl_context import CtlState, emit, json_option, pass_state
from rivetq.cli.ctl_jobs import queue_option

__all__ = ["COMMANDS", "concurrency_limit_json"]


def concurrency_limit_json(max_inflight: int | None) -> dict[str, object]:
    return {"max_inflight": max_inflight or 0, "exists": max_inflight is not None}


@click.group("concurrency-limit")
def concurrency_limit() -> None:
    """A queue's limit on jobs in flight at once (across workers and nodes)."""


@concurrency_limit.command("set")
@queue_option
@click.option("--max-inflight", type=int, required=True, help="Jobs leased at once, at most (1-1000000).")
@json_option
@pass_state
def concurrency_limit_set(state: CtlState, queue: str, max_inflight: int) -> None:
    """Let at most --max-inflight jobs of a queue be leased at once."""
    state.client().set_concurrency_limit(queue, max_inflight)
    emit(
        state,
        concurrency_limit_json(max_inflight),
        lambda: click.echo(f"set the concurrency limit of queue {queue}: {max_inflight} in flight at most"),
    )


@concurrency_limit.command("get")
@queue_option
@json_option
@pass_state
def concurrency_limit_get(state: CtlState, queue: str) -> None:
    """Show a queue's concurrency limit."""
    limit = state.client().get_concurrency_limit(queue)
    emit(state, concurrency_limit_json(limit), lambda: click.echo(_described(queue, limit)))


@concurrency_limit.command("delete")
@queue_option
@json_option
@pass_state
def concurrency_limit_delete(state: CtlState, queue: str) -> None:
    """Remove a queue's concurrency limit."""
    state.client().delete_concurrency_limit(queue)
    emit(state, {"success": True}, lambda: click.echo(f"deleted the concurrency limit of queue {queue}"))


COMMANDS = [concurrency_limit]


def _described(queue: str, limit: int | None) -> str:
    if limit is None:
        return f"queue {queue} has no concurrency limit"
    return f"concurrency limit of queue {queue}: {limit} in flight at most"
