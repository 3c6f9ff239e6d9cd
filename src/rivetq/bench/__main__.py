"""``rivetq-bench``: drive a running RivetQ server and print throughput and latency percentiles.

Exits with status 1 when any call failed or the counts do not add up (a job enqueued
but never acked, or jobs left in the queue), and with status 2 at once, naming the address,
when no server answers there."""

from __future__ import annotations

import asyncio
import json
import math
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click

from rivetq.bench.api import Api
from rivetq.bench.scenarios import LoopOptions, run_k6, run_loop, run_phases
from rivetq.bench.transport import Transport
from rivetq.wire import MAX_BATCH, MAX_WAIT_MS

__all__ = ["main"]

Scenario = Callable[[Transport], Awaitable[dict[str, object]]]
_AT_LEAST_ONE = click.IntRange(min=1)
_ABOVE_ZERO = click.FloatRange(min=0, min_open=True)
_OPERATIONS = ("enqueue", "lease", "ack", "enqueue_to_lease")


def _writable_location(path: str | None) -> str | None:
    """``--json-out`` is checked before the load runs, not after it: its directory must exist."""
    if path is not None and not Path(path).absolute().parent.is_dir():
        raise click.BadParameter(f"no directory {Path(path).absolute().parent}")
    return path


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:,.2f}"
    return str(value)


def problems(result: dict[str, Any]) -> list[str]:
    """Why a run is not clean: failed calls, jobs not acked, jobs left in the queue."""
    found = [f"{name}: {result[name]['failed']} failed {result[name]['errors']}"
             for name in ("enqueue", "lease", "ack") if result[name]["failed"]]  # fmt: skip
    if result["jobs_acked"] != result["jobs_enqueued"]:
        found.append(f"enqueued {result['jobs_enqueued']} jobs but acked {result['jobs_acked']}")
    counts = result["queue_after"]
    left = {name: count for name, count in (counts or {}).items() if count}
    if counts is None:
        found.append(f"could not read the counts of queue {result['queue']}")
    elif left:
        found.append(f"queue {result['queue']} not empty after the run: {left}")
    return found


def _print_summary(result: dict[str, Any]) -> None:
    click.echo(
        f"jobs: enqueued {result['jobs_enqueued']}, leased {result['jobs_leased']}, acked {result['jobs_acked']} "
        f"in {_fmt(result['elapsed_s'])} s ({result['empty_leases']} empty leases)"
    )
    click.echo(
        f"throughput: enqueue {_fmt(result['enqueue_jobs_per_s'])} jobs/s over {_fmt(result['produce_s'])} s, "
        f"lease+ack {_fmt(result['acked_jobs_per_s'])} jobs/s over {_fmt(result['consume_s'])} s"
    )
    click.echo(f"{'operation':<18}{'calls':>9}{'success':>10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    for name in _OPERATIONS:
        op = result[name]
        rate = op["success_rate"]
        success = "-" if math.isnan(rate) else f"{rate * 100:.2f}%"
        click.echo(
            f"{name:<18}{op['calls']:>9}{success:>10}"
            f"{_fmt(op['p50_ms']):>10}{_fmt(op['p95_ms']):>10}{_fmt(op['p99_ms']):>10}"
        )
    click.echo(f"queue {result['queue']} after the run: {result['queue_after']}")


def _transport(url: str, grpc_target: str | None, token: str | None, connections: int) -> Any:
    if grpc_target is None:
        return Api(url, connections=connections, token=token)
    from rivetq.bench.grpc_api import GrpcApi  # needs the grpc extra; only then

    return GrpcApi(grpc_target, token=token)


def _run(ctx: click.Context, scenario: Scenario) -> None:
    """Run ``scenario`` once a server answers; with none, say where the tool looked and exit 2
    at once instead of recording a whole run of failed calls."""
    url, grpc_target, token, json_out, connections = ctx.obj

    async def go() -> dict[str, Any] | str:
        async with _transport(url, grpc_target, token, connections) as api:
            return await api.unreachable() or await scenario(api)

    result = asyncio.run(go())
    if isinstance(result, str):
        click.echo(f"rivetq-bench: {result} (set --url or RIVETQ_URL, or --grpc HOST:PORT)", err=True)
        ctx.exit(2)
    result["transport"] = "grpc" if grpc_target else "rest"
    _print_summary(result)
    result["problems"] = problems(result)
    if json_out:
        Path(json_out).write_text(json.dumps(result, indent=2, default=str))
        click.echo(f"results written to {json_out}", err=True)
    for problem in result["problems"]:
        click.echo(f"problem: {problem}", err=True)
    if result["problems"]:
        ctx.exit(1)


@click.group()
@click.option("--url", envvar="RIVETQ_URL", default="http://127.0.0.1:8080", show_default=True)
@click.option("--grpc", "grpc_target", default=None, metavar="HOST:PORT", help="Use gRPC at this address, not REST.")
@click.option("--token", envvar="RIVETQ_TOKEN", default=None)
@click.option(
    "--json-out",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    callback=lambda ctx, param, value: _writable_location(value),
    help="Write the results as JSON.",
)
@click.option("--connections", type=_AT_LEAST_ONE, default=64, show_default=True, help="HTTP keep-alive connections.")
@click.pass_context
def main(
    ctx: click.Context, url: str, grpc_target: str | None, token: str | None, json_out: str | None, connections: int
) -> None:
    """Load-test a running RivetQ server."""
    ctx.obj = (url, grpc_target, token, json_out, connections)


@main.command()
@click.option("--queue", default="load-test", show_default=True)
@click.option(
    "--time-scale", type=_ABOVE_ZERO, default=1.0, show_default=True, help="Shrink stages and think times (0.1 = 10x)."
)
@click.pass_context
def k6(ctx: click.Context, queue: str, time_scale: float) -> None:
    """The seed's k6 scenario: ramp to 10 then 50 virtual users doing enqueue → lease → ack."""
    _run(ctx, lambda api: run_k6(api, queue, time_scale=time_scale))


def _number(name: str, kind: click.ParamType[Any], default: float, help_text: str) -> Callable[[Any], Any]:
    return click.option(name, type=kind, default=default, show_default=True, help=help_text)


def _workers(command: Callable[..., None]) -> Callable[..., None]:
    """The options ``loop`` and ``phases`` share."""
    options = [
        click.option("--queue", default=None, help="Default: a fresh bench-<random> queue."),
        click.option("--producers", type=_AT_LEAST_ONE, default=8, show_default=True),
        click.option("--consumers", type=_AT_LEAST_ONE, default=8, show_default=True),
        _number("--batch", click.IntRange(1, MAX_BATCH), 1, "Jobs per enqueue_batch / lease / ack_batch."),
        _number("--wait-ms", click.IntRange(0, MAX_WAIT_MS), 0, "Long-poll wait on lease."),
        _number("--rate", click.FloatRange(min=0), 0.0, "Total enqueue jobs/s (0 = as fast as possible)."),
        click.option("--stream", is_flag=True, help="Consumers use StreamLease (gRPC only; max_unacked = batch)."),
        click.option(
            "--ack-in-lease",
            is_flag=True,
            help="Consumers ack a lease's jobs inside their next lease call (REST only).",
        ),
        _number("--drain-timeout", _ABOVE_ZERO, 30.0, "Seconds to wait for the last acks."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _options(ctx: click.Context, queue: str | None, drain_timeout: float, **fields: Any) -> LoopOptions:
    """The workload's options, refusing combinations the transport cannot run."""
    grpc = ctx.obj[1] is not None
    if fields["stream"] and not grpc:
        raise click.UsageError("--stream (StreamLease) needs --grpc")
    if fields["ack_in_lease"] and grpc:
        raise click.UsageError("--ack-in-lease is a REST option; leave out --grpc")
    return LoopOptions(queue or f"bench-{uuid.uuid4().hex[:8]}", drain_timeout_s=drain_timeout, **fields)


@main.command()
@click.option("--duration", type=_ABOVE_ZERO, default=10.0, show_default=True, help="Seconds of enqueueing.")
@_workers
@click.pass_context
def loop(ctx: click.Context, /, duration: float, **options: Any) -> None:
    """Producers and consumers at once, as fast as they go (closed loop) or at a fixed --rate;
    then consumers drain what is left."""
    opts = _options(ctx, duration_s=duration, **options)
    _run(ctx, lambda api: run_loop(api, opts))


@main.command()
@click.option("--jobs", type=_AT_LEAST_ONE, default=20_000, show_default=True)
@_workers
@click.pass_context
def phases(ctx: click.Context, /, jobs: int, **options: Any) -> None:
    """Enqueue --jobs jobs, then lease and ack them all (the peer harness's W1 and W2)."""
    opts = _options(ctx, jobs=jobs, **options)
    _run(ctx, lambda api: run_phases(api, opts))


if __name__ == "__main__":
    sys.exit(main())
