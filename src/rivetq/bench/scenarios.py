"""Workloads: the seed's k6 scenario, producers and consumers together (as fast as
possible or at a fixed rate), and the peer harness's two phases (enqueue N, then drain)."""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from rivetq.bench.recorder import Recorder
from rivetq.bench.transport import AckingLeaseTransport, LeasedJob, StreamingTransport, Transport

__all__ = ["K6_STAGES", "LoopOptions", "run_k6", "run_loop", "run_phases"]

# The seed's scripts/k6_load.js: (seconds, target virtual users), linear ramps.
K6_STAGES: list[tuple[float, int]] = [(30, 10), (60, 10), (30, 50), (60, 50), (30, 0)]
_EMPTY_LEASE_PAUSE_S = 0.002  # after an empty lease without long-poll, as the peer harness does
_STREAM_REOPEN_PAUSE_S = 0.1


@dataclass(frozen=True)
class LoopOptions:
    queue: str
    producers: int
    consumers: int
    duration_s: float = 10.0  # run_loop: how long producers run
    jobs: int = 0  # run_phases: how many jobs to enqueue, then drain
    batch: int = 1  # jobs per enqueue_batch / lease max_jobs / ack_batch (1 = the seed's calls)
    wait_ms: int = 0  # long-poll on lease
    rate: float = 0.0  # total enqueue rate in jobs/s for all producers; 0 = as fast as possible
    stream: bool = False  # consumers use gRPC StreamLease (max_unacked = batch) instead of polling
    ack_in_lease: bool = False  # consumers ack each lease's jobs inside their next lease call
    visibility_ms: int = 30_000
    drain_timeout_s: float = 30.0  # how long consumers may run on after the last enqueue


def _payload(seq: int) -> dict[str, Any]:
    return {"seq": seq, "t": time.time(), "pad": "x" * 48}


def _record_leased(recorder: Recorder, jobs: list[LeasedJob]) -> None:
    now = time.time()
    recorder.jobs_leased += len(jobs)
    for job in jobs:
        if job.enqueued_at is not None:
            recorder.wait.record(max(now - job.enqueued_at, 0.0))


class _Drain:
    """Set once producing is over and every job enqueued has been acked."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder
        self.producing = True
        self.done = asyncio.Event()

    def check(self) -> None:
        if not self.producing and self._recorder.jobs_acked >= self._recorder.jobs_enqueued:
            self.done.set()

    def producers_finished(self) -> None:
        self.producing = False
        self.check()


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


async def _produce(api: Transport, opts: LoopOptions, recorder: Recorder, more: Callable[[], bool]) -> None:
    interval = (opts.producers * opts.batch / opts.rate) if opts.rate else 0.0
    next_at = time.perf_counter()
    while more():
        if interval:
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        payloads = [_payload(recorder.jobs_enqueued + i) for i in range(opts.batch)]
        created = await api.enqueue(opts.queue, payloads, 0, recorder.enqueue)
        recorder.jobs_enqueued += created  # after the await: other tasks update it meanwhile


async def _ack(api: Transport, jobs: list[LeasedJob], recorder: Recorder, drain: _Drain) -> None:
    _record_leased(recorder, jobs)
    acked = await api.ack(jobs, recorder.ack)
    recorder.jobs_acked += acked
    drain.check()


async def _poll(api: Transport, opts: LoopOptions, recorder: Recorder, drain: _Drain) -> None:
    while not drain.done.is_set():
        lease = {"max_jobs": opts.batch, "visibility_ms": opts.visibility_ms, "wait_ms": opts.wait_ms}
        jobs = await api.lease(opts.queue, **lease, stats=recorder.lease)
        if jobs:
            await _ack(api, jobs, recorder, drain)
            continue
        recorder.empty_leases += 1
        if not opts.wait_ms:
            await asyncio.sleep(_EMPTY_LEASE_PAUSE_S)


async def _poll_acking(api: AckingLeaseTransport, opts: LoopOptions, recorder: Recorder, drain: _Drain) -> None:
    """As ``_poll``, but the jobs of one lease are acked by the next lease call."""
    finished: list[LeasedJob] = []
    while not drain.done.is_set():
        lease = {"max_jobs": opts.batch, "visibility_ms": opts.visibility_ms, "wait_ms": opts.wait_ms}
        outcome = await api.ack_and_lease(opts.queue, finished, **lease, stats=recorder.lease)
        if outcome is None:  # failed: send the same acks again
            await asyncio.sleep(_EMPTY_LEASE_PAUSE_S)
            continue
        acked, finished = outcome
        recorder.jobs_acked += acked
        drain.check()
        if finished:
            _record_leased(recorder, finished)
            continue
        recorder.empty_leases += 1
        if not opts.wait_ms:
            await asyncio.sleep(_EMPTY_LEASE_PAUSE_S)


async def _stream(api: StreamingTransport, opts: LoopOptions, recorder: Recorder, drain: _Drain) -> None:
    """Acks each pushed message's jobs; reopens a stream that failed."""
    while not drain.done.is_set():
        stream = api.stream_lease(opts.queue, max_unacked=opts.batch, visibility_ms=opts.visibility_ms,
                                  stats=recorder.lease)  # fmt: skip
        async for jobs in stream:
            await _ack(api, jobs, recorder, drain)
        await asyncio.sleep(_STREAM_REOPEN_PAUSE_S)


def _consumers(api: Transport, opts: LoopOptions, recorder: Recorder, drain: _Drain) -> list[asyncio.Task[None]]:
    if opts.stream:
        if not isinstance(api, StreamingTransport):
            raise ValueError("StreamLease needs the gRPC transport")
        return [asyncio.create_task(_stream(api, opts, recorder, drain)) for _ in range(opts.consumers)]
    if opts.ack_in_lease:
        if not isinstance(api, AckingLeaseTransport):
            raise ValueError("acking inside the lease call needs the REST transport")
        return [asyncio.create_task(_poll_acking(api, opts, recorder, drain)) for _ in range(opts.consumers)]
    return [asyncio.create_task(_poll(api, opts, recorder, drain)) for _ in range(opts.consumers)]


async def _drain_and_stop(consumers: list[asyncio.Task[None]], drain: _Drain, timeout_s: float) -> None:
    try:
        await asyncio.wait_for(drain.done.wait(), timeout_s)
    except TimeoutError:
        print(f"drain timed out after {timeout_s} s", file=sys.stderr, flush=True)
    finally:
        drain.done.set()
        for task in consumers:
            task.cancel()
        for outcome in await asyncio.gather(*consumers, return_exceptions=True):
            if isinstance(outcome, Exception):
                raise outcome


async def _finish(api: Transport, queue: str, recorder: Recorder, elapsed: float) -> dict[str, object]:
    result = recorder.summary(elapsed)
    result["queue"] = queue
    result["queue_after"] = await api.queue_counts(queue)
    return result


async def run_loop(api: Transport, opts: LoopOptions) -> dict[str, object]:
    """Producers and consumers together; producers stop after ``duration_s`` (paced when
    ``rate`` > 0), consumers once every job enqueued is acked (or after ``drain_timeout_s``)."""
    recorder = Recorder()

    async def work() -> None:
        drain = _Drain(recorder)
        consumers = _consumers(api, opts, recorder, drain)
        started = time.perf_counter()
        deadline = started + opts.duration_s
        await asyncio.gather(*(_produce(api, opts, recorder, lambda: time.perf_counter() < deadline)
                               for _ in range(opts.producers)))  # fmt: skip
        recorder.produce_s = time.perf_counter() - started
        drain.producers_finished()
        await _drain_and_stop(consumers, drain, opts.drain_timeout_s)
        recorder.consume_s = time.perf_counter() - started

    return await _finish(api, opts.queue, recorder, await _with_progress(recorder, work))


async def run_phases(api: Transport, opts: LoopOptions) -> dict[str, object]:
    """The peer harness's W1 then W2: producers enqueue ``jobs`` jobs, then consumers lease
    and ack until all are done."""
    recorder = Recorder()
    calls = iter(range(-(-opts.jobs // opts.batch)))

    async def work() -> None:
        started = time.perf_counter()
        await asyncio.gather(*(_produce(api, opts, recorder, lambda: next(calls, None) is not None)
                               for _ in range(opts.producers)))  # fmt: skip
        recorder.produce_s = time.perf_counter() - started
        drain = _Drain(recorder)
        consume_started = time.perf_counter()
        consumers = _consumers(api, opts, recorder, drain)
        drain.producers_finished()
        await _drain_and_stop(consumers, drain, opts.drain_timeout_s)
        recorder.consume_s = time.perf_counter() - consume_started

    return await _finish(api, opts.queue, recorder, await _with_progress(recorder, work))


async def _k6_iteration(api: Transport, queue: str, recorder: Recorder, rng: random.Random, scale: float) -> None:
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


async def run_k6(api: Transport, queue: str, *, time_scale: float = 1.0, seed: int = 1) -> dict[str, object]:
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
    recorder.produce_s = recorder.consume_s = elapsed
    return await _finish(api, queue, recorder, elapsed)
