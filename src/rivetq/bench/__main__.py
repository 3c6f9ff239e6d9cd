"""``rivetq-bench``: drive a running RivetQ server and print throughput and latency percentiles."""

from __future__ import annotations

import asyncio
import json
import math
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import click

from rivetq.bench.api import Api
from rivetq.bench.scenarios import LoopOptions, run_closed_loop, run_k6

__all__ = ["main"]

Scenario = Callable[[Api], Awaitable[dict[str, object]]]


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:,.2f}"
    return str(value)


def _print_summary(result: dict[str, object]) -> None:
    click.echo(
        f"jobs: enqueued {result['jobs_enqueued']}, leased {result['jobs_leased']}, "
        f"acked {result['jobs_acked']} in {_fmt(result['elapsed_s'])} s"
    )
    click.echo(
        f"throughput: enqueue {_fmt(result['enqueue_jobs_per_s'])} jobs/s, "
        f"end-to-end {_fmt(result['acked_jobs_per_s'])} jobs/s"
    )
    click.echo(f"{'operation':<18}{'calls':>9}{'success':>10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    for name in ("enqueue", "lease", "ack", "enqueue_to_lease"):
        op = result[name]
        assert isinstance(op, dict)
        rate = op["success_rate"]
        success = "-" if not isinstance(rate, float) or math.isnan(rate) else f"{rate * 100:.2f}%"
        click.echo(
            f"{name:<18}{op['calls']:>9}{success:>10}"
            f"{_fmt(op['p50_ms']):>10}{_fmt(op['p95_ms']):>10}{_fmt(op['p99_ms']):>10}"
        )


def _run(ctx: click.Context, scenario: Scenario) -> None:
    url, token, json_out, connections = ctx.obj

    async def go() -> dict[str, object]:
        async with Api(url, connections=connections, token=token) as api:
            return await scenario(api)

    result = asyncio.run(go())
    _print_summary(result)
    if json_out:
        Path(json_out).write_text(json.dumps(result, indent=2, default=str))
        click.echo(f"results written to {json_out}", err=True)


@click.group()
@click.option("--url", envvar="RIVETQ_URL", default="http://127.0.0.1:8080", show_default=True)
@click.option("--token", envvar="RIVETQ_TOKEN", default=None)
@click.option("--json-out", type=click.Path(dir_okay=False), default=None, help="Write the results as JSON.")
@click.option("--connections", default=64, show_default=True, help="HTTP keep-alive connections.")
@click.pass_context
def main(ctx: click.Context, url: str, token: str | None, json_out: str | None, connections: int) -> None:
    """Load-test a running RivetQ server."""
    ctx.obj = (url, token, json_out, connections)


@main.command()
@click.option("--queue", default="load-test", show_default=True)
@click.option("--time-scale", default=1.0, show_default=True, help="Shrink stages and think times (0.1 = 10x).")
@click.pass_context
def k6(ctx: click.Context, queue: str, time_scale: float) -> None:
    """The seed's k6 scenario: ramp to 10 then 50 virtual users doing enqueue → lease → ack."""
    _run(ctx, lambda api: run_k6(api, queue, time_scale=time_scale))


@main.command()
@click.option("--queue", default="bench", show_default=True)
@click.option("--duration", default=10.0, show_default=True, help="Seconds.")
@click.option("--producers", default=8, show_default=True)
@click.option("--consumers", default=8, show_default=True)
@click.option("--batch", default=1, show_default=True, help="Jobs per enqueue_batch / lease / ack_batch call.")
@click.option("--wait-ms", default=0, show_default=True, help="Long-poll wait on lease.")
@click.option("--rate", default=0.0, show_default=True, help="Total enqueue jobs/s (0 = closed loop, max).")
@click.pass_context
def loop(
    ctx: click.Context,
    queue: str,
    duration: float,
    producers: int,
    consumers: int,
    batch: int,
    wait_ms: int,
    rate: float,
) -> None:
    """Producers and consumers at once: max throughput (closed loop) or a fixed rate."""
    opts = LoopOptions(queue, duration, producers, consumers, batch=batch, wait_ms=wait_ms, rate=rate)
    _run(ctx, lambda api: run_closed_loop(api, opts))


if __name__ == "__main__":
    sys.exit(main())
