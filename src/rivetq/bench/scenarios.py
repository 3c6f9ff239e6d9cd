"""Workloads: the seed's k6 scenario, closed-loop max throughput, and a fixed rate."""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from rivetq.bench.api import Api, LeasedJob
from rivetq.bench.recorder import Recorder

__all__ = ["K6_STAGES", "LoopOptions", "run_closed_loop", "run_k6"]

# The seed's scripts/k6_load.js: (seconds, target virtual users), linear ramps.
K6_STAGES: list[tuple[float, int]] = [(30, 10), (60, 10), (30, 50), (60, 50), (30, 0)]


@dataclass(frozen=True)
class LoopOptions:
    queue: str
    duration_s: float
    producers: int
    consumers: int
    batch: int = 1  # jobs per enqueue_batch / lease max_jobs / ack_batch (1 = the seed's calls)
    wait_ms: int = 0  # long-poll on lease
    rate: float = 0.0  # total enqueue rate in jobs/s for all producers; 0 = as fast as possible
    visibility_ms: int = 30_000


def _payload(seq: int) -> dict[str, Any]:
    return {"seq": seq, "t": time.time(), "pad": "x" * 48}


def _record_leased(recorder: Recorder, jobs: list[LeasedJob]) -> None:
    now = time.time()
    recorder.jobs_leased += len(jobs)
    for job in jobs:
        if job.enqueued_at is not None:
            recorder.wait.record(max(now - job.enqueued_at, 0.0))


async def _report_progress(recorder: Recorder, started: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=1.0)
        except TimeoutError:
            print(recorder.progress_line(time.perf_counter() - started), file=sys.stderr, flush=True)


async def _with_progress(recorder: Recorder, work: Callable[[], Awaitable[None]]) -> float:
    started = time.perf_counter()
    stop = asyncio.Event()
    reporter = asyncio.create_task(_report_progress(recorder, started, stop))
    try:
        await work()
    finally:
        stop.set()
        await reporter
    return time.perf_counter() - started


async def _produce(api: Api, opts: LoopOptions, recorder: Recorder, deadline: float, interval: float) -> None:
    next_at = time.perf_counter()
    seq = 0
    while time.perf_counter() < deadline:
        if interval:
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        payloads = [_payload(seq + i) for i in range(opts.batch)]
        seq += opts.batch
        created = await api.enqueue(opts.queue, payloads, 0, recorder.enqueue)
        recorder.jobs_enqueued += created  # never `+= await`: it reads the counter before awaiting


async def _consume(api: Api, opts: LoopOptions, recorder: Recorder, deadline: float) -> None:
    while time.perf_counter() < deadline:
        jobs = await api.lease(
            opts.queue,
            max_jobs=opts.batch,
            visibility_ms=opts.visibility_ms,
            wait_ms=opts.wait_ms,
            stats=recorder.lease,
        )
        if not jobs:
            recorder.empty_leases += 1
            if not opts.wait_ms:
                await asyncio.sleep(0.002)
            continue
        _record_leased(recorder, jobs)
        acked = await api.ack(jobs, recorder.ack)
        recorder.jobs_acked += acked


async def run_closed_loop(api: Api, opts: LoopOptions) -> dict[str, object]:
    """Producers and consumers together for ``duration_s``; paced when ``rate`` > 0."""
    recorder = Recorder()
    interval = (opts.producers * opts.batch / opts.rate) if opts.rate else 0.0

    async def work() -> None:
        deadline = time.perf_counter() + opts.duration_s
        producers = [_produce(api, opts, recorder, deadline, interval) for _ in range(opts.producers)]
        consumers = [_consume(api, opts, recorder, deadline) for _ in range(opts.consumers)]
        await asyncio.gather(*producers, *consumers)

    elapsed = await _with_progress(recorder, work)
    return recorder.summary(elapsed)


async def _k6_iteration(api: Api, queue: str, recorder: Recorder, rng: random.Random, scale: float) -> None:
    created = await api.enqueue(queue, [_payload(0)], rng.randint(0, 9), recorder.enqueue)
    recorder.jobs_enqueued += created
    await asyncio.sleep(0.1 * scale)
    jobs = await api.lease(queue, max_jobs=1, visibility_ms=30_000, wait_ms=0, stats=recorder.lease)
    if jobs:
        _record_leased(recorder, jobs)
        await asyncio.sleep(rng.uniform(0, 0.5) * scale)
        acked = await api.ack(jobs, recorder.ack)
        recorder.jobs_acked += acked
    else:
        recorder.empty_leases += 1
    await asyncio.sleep(0.5 * scale)


def _target_users(elapsed: float, stages: list[tuple[float, int]]) -> int:
    start_users, stage_start = 0, 0.0
    for length, target in stages:
        if elapsed < stage_start + length:
            fraction = (elapsed - stage_start) / length
            return round(start_users + (target - start_users) * fraction)
        start_users, stage_start = target, stage_start + length
    return 0


async def run_k6(api: Api, queue: str, *, time_scale: float = 1.0, seed: int = 1) -> dict[str, object]:
    """The seed's k6 scenario: stages of virtual users, each looping enqueue → lease → ack
    with the k6 script's think times. ``time_scale`` < 1 shortens stages and think times."""
    recorder = Recorder()
    stages = [(length * time_scale, users) for length, users in K6_STAGES]
    total = sum(length for length, _ in stages)
    rng = random.Random(seed)

    async def virtual_user(index: int, started: float) -> None:
        while True:
            elapsed = time.perf_counter() - started
            if elapsed >= total or index >= _target_users(elapsed, stages):
                return
            await _k6_iteration(api, queue, recorder, rng, time_scale)

    async def work() -> None:
        started = time.perf_counter()
        running: dict[int, asyncio.Task[None]] = {}
        while (elapsed := time.perf_counter() - started) < total:
            for index in range(_target_users(elapsed, stages)):
                if index not in running or running[index].done():
                    running[index] = asyncio.create_task(virtual_user(index, started))
            await asyncio.sleep(0.05)
        await asyncio.gather(*running.values())

    elapsed = await _with_progress(recorder, work)
    return recorder.summary(elapsed)
