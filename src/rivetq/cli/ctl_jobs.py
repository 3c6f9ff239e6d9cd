"""rivetqctl job commands: enqueue, lease, ack, nack, extend, job get|cancel, jobs."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import msgspec

from rivetq import wire
from rivetq.cli.ctl_context import CtlState, emit, json_option, pass_state, payload_text, print_record, print_table

if TYPE_CHECKING:
    from rivetq.client import Job

__all__ = ["COMMANDS", "header_option", "json_payload", "print_jobs", "queue_option"]

queue_option = click.option("-q", "--queue", required=True, help="Queue name.")


def _payload_bytes(value: str) -> bytes:
    """``-p JSON``, ``-p @FILE`` or ``-p -`` (stdin): neither ``@`` nor a lone ``-`` can
    begin a JSON document, so the forms never clash. Files and stdin carry payloads too
    large for a command line."""
    if value == "-":
        return sys.stdin.buffer.read()
    if value.startswith("@"):
        try:
            return Path(value[1:]).read_bytes()
        except OSError as error:
            raise click.BadParameter(f"cannot read {value[1:]}: {error.strerror}") from None
    return value.encode()


def json_payload(ctx: click.Context, param: click.Parameter, value: str) -> Any:
    try:
        return msgspec.json.decode(_payload_bytes(value))
    except msgspec.DecodeError as error:
        raise click.BadParameter(f"not valid JSON: {error}") from None


def _headers(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str] | None:
    """``--header NAME=VALUE`` pairs (repeatable); the value may contain ``=``."""
    pairs = [value.partition("=") for value in values]
    for name, equals, _ in pairs:
        if not name or not equals:
            raise click.BadParameter("give NAME=VALUE, e.g. --header traceparent=00-...-01")
    return {name: value for name, _, value in pairs} or None


header_option = click.option(
    "--header", "headers", multiple=True, callback=_headers, help="NAME=VALUE header (repeatable)."
)


def _lease_args(
    job_id: str | None, lease_id: str | None, job_opt: str | None, lease_opt: str | None
) -> tuple[str, str]:
    """``ack JOB LEASE`` or ``ack --job-id JOB --lease-id LEASE``."""
    job, lease = job_opt or job_id, lease_opt or lease_id
    if not job or not lease:
        raise click.UsageError("give JOB_ID and LEASE_ID (as arguments or with --job-id/--lease-id)")
    return job, lease


def lease_target(command: Any) -> Any:
    for decorator in reversed(
        (
            click.argument("job_id", required=False),
            click.argument("lease_id", required=False),
            click.option("--job-id", "job_opt", help="Job id (instead of the first argument)."),
            click.option("--lease-id", "lease_opt", help="Lease id (instead of the second argument)."),
        )
    ):
        command = decorator(command)
    return command


@click.command()
@queue_option
@click.option(
    "-p",
    "--payload",
    required=True,
    callback=json_payload,
    help="Job payload: JSON, @FILE to read it from a file, or - to read it from stdin.",
)
@click.option("--priority", default=5, show_default=True, help="0-9, 9 served first.")
@click.option("--delay-ms", default=0, show_default=True, help="Run no sooner than this.")
@click.option("--run-at", help="Run no sooner than this RFC 3339 time.")
@click.option("--max-retries", default=3, show_default=True)
@click.option("--idempotency-key", help="Enqueue at most once per key (within the dedup window).")
@header_option
@json_option
@pass_state
def enqueue(
    state: CtlState,
    queue: str,
    payload: Any,
    priority: int,
    delay_ms: int,
    run_at: str | None,
    max_retries: int,
    idempotency_key: str | None,
    headers: dict[str, str] | None,
) -> None:
    """Enqueue a job; says its id, or the earlier job's when the idempotency key made it a duplicate."""
    from rivetq.client import JobSpec, _calls

    spec = JobSpec(
        payload=payload,
        priority=priority,
        delay_ms=delay_ms,
        max_retries=max_retries,
        idempotency_key=idempotency_key,
        run_at=run_at,
        headers=headers,
    )
    answer = state.client().send(_calls.enqueue_answer(queue, spec))
    if answer.duplicate:
        said = f"not enqueued: idempotency key {idempotency_key} already enqueued job {answer.job_id}"
    else:
        said = f"enqueued job {answer.job_id}"
    emit(state, answer, lambda: click.echo(said))


def print_jobs(jobs: Sequence[Job], empty: str = "no jobs") -> None:
    rows = [
        [job.id, job.state, job.priority, job.tries, job.lease_id or "-", payload_text(job.payload)[:60]]
        for job in jobs
    ]
    print_table(["ID", "STATE", "PRIORITY", "TRIES", "LEASE", "PAYLOAD"], rows, empty)


@click.command()
@queue_option
@click.option("--max-jobs", default=1, show_default=True)
@click.option("--visibility", "visibility_ms", default=30_000, show_default=True, help="Lease length (ms).")
@click.option("--wait", "wait_ms", default=0, show_default=True, help="Long-poll up to this long (ms).")
@json_option
@pass_state
def lease(state: CtlState, queue: str, max_jobs: int, visibility_ms: int, wait_ms: int) -> None:
    """Lease ready jobs."""
    jobs = state.client().lease(queue, max_jobs=max_jobs, visibility_ms=visibility_ms, wait_ms=wait_ms)
    emit(state, {"jobs": jobs}, lambda: print_jobs(jobs, f"no jobs leased from queue {queue}"))


@click.command()
@lease_target
@json_option
@pass_state
def ack(state: CtlState, job_id: str | None, lease_id: str | None, job_opt: str | None, lease_opt: str | None) -> None:
    """Mark a leased job done."""
    job, lease_ = _lease_args(job_id, lease_id, job_opt, lease_opt)
    state.client().ack(job, lease_)
    emit(state, {"success": True}, lambda: click.echo(f"acked job {job}"))


@click.command()
@lease_target
@click.option("--reason", help="Why the attempt failed (kept as the job's last error).")
@click.option("--delay-ms", type=int, help="Retry after this long instead of the backoff.")
@json_option
@pass_state
def nack(
    state: CtlState,
    job_id: str | None,
    lease_id: str | None,
    job_opt: str | None,
    lease_opt: str | None,
    reason: str | None,
    delay_ms: int | None,
) -> None:
    """Report a failed attempt; says the job's new state."""
    job, lease_ = _lease_args(job_id, lease_id, job_opt, lease_opt)
    new_state = state.client().nack(job, lease_, reason=reason, delay_ms=delay_ms)
    said = f"nacked job {job}: now {new_state}" + (" (in the dead letter queue)" if new_state == "dead" else "")
    emit(state, {"success": True, "state": new_state}, lambda: click.echo(said))


@click.command()
@lease_target
@click.option("--visibility", "visibility_ms", default=30_000, show_default=True, help="New lease length (ms).")
@json_option
@pass_state
def extend(
    state: CtlState,
    job_id: str | None,
    lease_id: str | None,
    job_opt: str | None,
    lease_opt: str | None,
    visibility_ms: int,
) -> None:
    """Extend a lease; says its new expiry."""
    job, lease_ = _lease_args(job_id, lease_id, job_opt, lease_opt)
    expires = state.client().extend(job, lease_, visibility_ms)
    said = f"extended the lease of job {job} until {wire.rfc3339_text(expires)}"
    emit(state, {"lease_expires_at": expires}, lambda: click.echo(said))


@click.group()
def job() -> None:
    """Look up or cancel one job."""


@job.command("get")
@click.argument("job_id")
@json_option
@pass_state
def job_get(state: CtlState, job_id: str) -> None:
    """Show a job and its state."""
    found = state.client().get_job(job_id)
    emit(state, found, lambda: print_record(found, json_fields=("headers", "payload")))


@job.command("cancel")
@click.argument("job_id")
@json_option
@pass_state
def job_cancel(state: CtlState, job_id: str) -> None:
    """Delete a job that is not inflight."""
    state.client().cancel(job_id)
    emit(state, {"success": True, "job_id": job_id}, lambda: click.echo(f"cancelled job {job_id}"))


@click.command()
@queue_option
@click.option("--state", "job_state", type=click.Choice(["ready", "delayed", "inflight", "dead"]))
@click.option("--limit", default=100, show_default=True)
@click.option("--cursor", help="next_cursor of the previous page.")
@json_option
@pass_state
def jobs(state: CtlState, queue: str, job_state: str | None, limit: int, cursor: str | None) -> None:
    """List a queue's jobs, a page at a time."""
    page = state.client().list_jobs(queue, state=job_state, limit=limit, cursor=cursor)

    def human() -> None:
        print_jobs(page.jobs, f"no {job_state + ' ' if job_state else ''}jobs in queue {queue}")
        if page.next_cursor:
            click.echo(f"next page: --cursor {page.next_cursor}")

    emit(state, page, human)


COMMANDS = [enqueue, lease, ack, nack, extend, job, jobs]
