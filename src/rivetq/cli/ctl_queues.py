"""rivetqctl queue commands: list, stats, pause, resume, purge, dlq, rate-limit, retry-policy."""

from __future__ import annotations

import sys
from typing import get_args

import click

from rivetq.cli.ctl_context import CtlState, counted, emit, json_option, pass_state, print_rows, print_table
from rivetq.cli.ctl_jobs import print_jobs, queue_option
from rivetq.cli.ctl_limits import concurrency_limit_json
from rivetq.models import RateLimit, RetryPolicy
from rivetq.wire import Jitter

__all__ = ["COMMANDS"]


def _confirmed(context: click.Context, parameter: click.Parameter, yes: bool) -> None:
    """Without --yes, ask on the terminal (the question on stderr, so stdout stays the
    command's output); with no terminal to ask, as in a script, refuse (exit 2)."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise click.UsageError("this deletes jobs for good: pass --yes (there is no terminal to ask)", context)
    if not click.confirm("This deletes jobs for good. Continue?", err=True):
        raise click.Abort


_confirm = click.option("--yes", is_flag=True, expose_value=False, callback=_confirmed, help="Do not ask.")
_DEFAULT_POLICY = RetryPolicy()


def _limit_text(limit: RateLimit | None) -> str:
    return "none" if limit is None else f"capacity {limit.capacity:g}, refill {limit.refill_rate:g} per second"


def _limit_json(limit: RateLimit | None) -> dict[str, object]:
    """The REST API's rate limit view (``exists`` false when there is none)."""
    if limit is None:
        return {"capacity": 0, "refill_rate": 0, "exists": False}
    return {"capacity": limit.capacity, "refill_rate": limit.refill_rate, "exists": True}


@click.command("list")
@json_option
@pass_state
def list_queues(state: CtlState) -> None:
    """List queues with their counts."""
    queues = state.client().list_queues()
    rows = [[q.name, q.ready, q.delayed, q.inflight, q.dlq, q.paused] for q in queues]
    headers = ["QUEUE", "READY", "DELAYED", "INFLIGHT", "DLQ", "PAUSED"]
    emit(state, {"queues": queues}, lambda: print_table(headers, rows, "no queues"))


@click.command()
@queue_option
@json_option
@pass_state
def stats(state: CtlState, queue: str) -> None:
    """Show a queue's counts, counters and settings."""
    found = state.client().stats(queue)
    limits = ("rate_limit", "concurrency_limit")
    pairs = [(name, getattr(found, name)) for name in found.__struct_fields__ if name not in limits]
    cap = found.concurrency_limit
    document = {  # as the REST API shows it
        **dict(pairs),
        "rate_limit": _limit_json(found.rate_limit),
        "concurrency_limit": concurrency_limit_json(cap),
    }
    texts = [("rate_limit", _limit_text(found.rate_limit)), ("concurrency_limit", "none" if cap is None else cap)]
    emit(state, document, lambda: print_rows([*pairs, *texts]))


@click.command()
@queue_option
@json_option
@pass_state
def pause(state: CtlState, queue: str) -> None:
    """Stop handing out a queue's jobs."""
    state.client().pause(queue)
    emit(state, {"success": True}, lambda: click.echo(f"paused queue {queue}"))


@click.command()
@queue_option
@json_option
@pass_state
def resume(state: CtlState, queue: str) -> None:
    """Hand out a paused queue's jobs again."""
    state.client().resume(queue)
    emit(state, {"success": True}, lambda: click.echo(f"resumed queue {queue}"))


@click.command()
@queue_option
@_confirm
@json_option
@pass_state
def purge(state: CtlState, queue: str) -> None:
    """Delete all of a queue's jobs."""
    purged = state.client().purge(queue)
    emit(state, {"purged": purged}, lambda: click.echo(f"purged {counted(purged, 'job')} of queue {queue}"))


@click.command("delete-queue")
@queue_option
@click.option("--force", is_flag=True, help="Delete even while jobs are inflight.")
@_confirm
@json_option
@pass_state
def delete_queue(state: CtlState, queue: str, force: bool) -> None:
    """Remove a queue entirely: jobs, DLQ, settings, counters and metrics."""
    deleted = state.client().delete_queue(queue, force=force)
    emit(
        state,
        {"queue": queue, "deleted_jobs": deleted},
        lambda: click.echo(f"deleted queue {queue} and {counted(deleted, 'job')}"),
    )


@click.group()
def dlq() -> None:
    """The dead letter queue: list, requeue, purge."""


@dlq.command("list")
@queue_option
@click.option("--limit", default=100, show_default=True)
@click.option("--cursor", help="next_cursor of the previous page.")
@json_option
@pass_state
def dlq_list(state: CtlState, queue: str, limit: int, cursor: str | None) -> None:
    """List dead jobs with their last error."""
    page = state.client().list_dlq(queue, limit=limit, cursor=cursor)

    def human() -> None:
        print_jobs(page.jobs, f"no dead jobs in queue {queue}")
        for job in page.jobs:
            last_line = (job.last_error or "").strip().splitlines()[-1:] or ["-"]
            click.echo(f"{job.id}: {last_line[0]}")

    emit(state, page, human)


@dlq.command("requeue")
@queue_option
@click.option("--job-id", "job_ids", multiple=True, help="Requeue only this job (repeatable; default all).")
@json_option
@pass_state
def dlq_requeue(state: CtlState, queue: str, job_ids: tuple[str, ...]) -> None:
    """Make dead jobs ready again (tries reset)."""
    requeued = state.client().requeue_dlq(queue, list(job_ids) or None)
    said = f"requeued {counted(requeued, 'dead job')} of queue {queue}"
    emit(state, {"requeued": requeued}, lambda: click.echo(said))


@dlq.command("purge")
@queue_option
@_confirm
@json_option
@pass_state
def dlq_purge(state: CtlState, queue: str) -> None:
    """Delete every dead job of a queue."""
    purged = state.client().purge_dlq(queue)
    emit(state, {"purged": purged}, lambda: click.echo(f"purged {counted(purged, 'dead job')} of queue {queue}"))


@click.group("rate-limit")
def rate_limit() -> None:
    """A queue's dispatch rate limit (token bucket)."""


@rate_limit.command("set")
@queue_option
@click.option("--capacity", type=float, required=True, help="Bucket size (burst).")
@click.option("--refill-rate", type=float, required=True, help="Tokens per second.")
@json_option
@pass_state
def rate_limit_set(state: CtlState, queue: str, capacity: float, refill_rate: float) -> None:
    """Limit how fast workers get a queue's jobs."""
    state.client().set_rate_limit(queue, capacity, refill_rate)
    limit = RateLimit(capacity, refill_rate)
    said = f"set the rate limit of queue {queue}: {_limit_text(limit)}"
    emit(state, _limit_json(limit), lambda: click.echo(said))


@rate_limit.command("get")
@queue_option
@json_option
@pass_state
def rate_limit_get(state: CtlState, queue: str) -> None:
    """Show a queue's rate limit."""
    limit = state.client().get_rate_limit(queue)
    said = f"queue {queue} has no rate limit" if limit is None else f"rate limit of queue {queue}: {_limit_text(limit)}"
    emit(state, _limit_json(limit), lambda: click.echo(said))


@rate_limit.command("delete")
@queue_option
@json_option
@pass_state
def rate_limit_delete(state: CtlState, queue: str) -> None:
    """Remove a queue's rate limit."""
    state.client().delete_rate_limit(queue)
    emit(state, {"success": True}, lambda: click.echo(f"deleted the rate limit of queue {queue}"))


@click.group("retry-policy")
def retry_policy() -> None:
    """A queue's backoff after a failed attempt: min(max, base * multiplier^(tries-1)), with jitter."""


def _print_policy(policy: RetryPolicy) -> None:
    print_rows([(name, getattr(policy, name)) for name in policy.__struct_fields__])


@retry_policy.command("set")
@queue_option
@click.option(
    "--base-backoff-ms", type=int, help=f"Backoff after the first failure [default {_DEFAULT_POLICY.base_backoff_ms}]."
)
@click.option(
    "--multiplier", type=float, help=f"Growth per failure, 1 to 100 [default {_DEFAULT_POLICY.multiplier:g}]."
)
@click.option("--max-backoff-ms", type=int, help=f"Longest backoff [default {_DEFAULT_POLICY.max_backoff_ms}].")
@click.option(
    "--jitter",
    type=click.Choice(get_args(Jitter)),
    help=f"Random spread of a backoff b: equal [b/2, b], full [0, b], none [default {_DEFAULT_POLICY.jitter}].",
)
@json_option
@pass_state
def retry_policy_set(
    state: CtlState,
    queue: str,
    base_backoff_ms: int | None,
    multiplier: float | None,
    max_backoff_ms: int | None,
    jitter: str | None,
) -> None:
    """Set a queue's retry backoff.

    Options left out take the defaults, not their current values."""
    policy = state.client().set_retry_policy(
        queue, base_backoff_ms=base_backoff_ms, multiplier=multiplier, max_backoff_ms=max_backoff_ms, jitter=jitter
    )
    emit(state, policy, lambda: _print_policy(policy))


@retry_policy.command("get")
@queue_option
@json_option
@pass_state
def retry_policy_get(state: CtlState, queue: str) -> None:
    """Show a queue's retry backoff (the defaults until one is set)."""
    policy = state.client().get_retry_policy(queue)
    emit(state, policy, lambda: _print_policy(policy))


@retry_policy.command("delete")
@queue_option
@json_option
@pass_state
def retry_policy_delete(state: CtlState, queue: str) -> None:
    """Restore the default retry backoff of a queue."""
    state.client().delete_retry_policy(queue)
    emit(state, {"success": True}, lambda: click.echo(f"reset the retry policy of queue {queue} to the defaults"))


COMMANDS = [list_queues, stats, pause, resume, purge, delete_queue, dlq, rate_limit, retry_policy]
