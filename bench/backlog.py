"""A backlog bigger than memory: ``rivetqd`` (embedded engine, fsync on) on an empty data
dir and on data dirs holding 100k and 10M queued jobs (~100-byte payloads), same run.

    flock /tmp/rivetq-bench.lock .venv/bin/python bench/backlog.py                  # 0, 100k, 10M
    flock /tmp/rivetq-bench.lock .venv/bin/python bench/backlog.py --sizes 0,100000 --seconds 3
    flock /tmp/rivetq-bench.lock .venv/bin/python bench/backlog.py --against /tmp/old/src   # A/B, see below
    flock /tmp/rivetq-bench.lock .venv/bin/python bench/backlog.py --burst 1000000           # see below

Each backlog is written first through the storage API in this process (batches of
10,000 inserts, fsync off: 10M take a few minutes, not an hour). Then, per data dir, a
real ``rivetqd`` serves: single and batched (100) enqueues, then single and batched lease
+ ack (8 clients each, ``--seconds`` per phase), its ``RssAnon`` (anonymous memory, the
LMDB page cache left out) is read from /proc, it is SIGKILLed and restarted, and the
restart is timed until ``/readyz`` answers 200 and a lease is served. Markdown rows.

``--against SRC`` instead compares single-job lease+ack with another version's source
tree (e.g. ``git archive f5120e9 src | tar -x -C /tmp/old``, run through ``PYTHONPATH``),
alternating fresh servers of both, each with 60,000 jobs enqueued first.

``--burst N`` fills a fresh ``rivetqd`` over HTTP instead, as fast as 4 clients with
batches of 1,000 go (faster than checkpoints write LMDB), then reads its memory, SIGKILLs
it and times the restart: what a producer outpacing the checkpoints leaves to memory and
to the next start.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import tempfile
import time
from functools import partial
from pathlib import Path

from scaling import Rate, drive, enqueue_for, lease_ack_for, memory_of, server_args
from scaling import fill as scaling_fill

from rivetq import Client
from rivetq.models import NewJob
from rivetq.storage.local import LocalOptions, LocalStorage
from tests.e2e.server import RunningServer, spawn_server, start_server, wait_ready

QUEUE = "deep"
PAYLOAD = b'{"seq": 0, "pad": "' + b"x" * 80 + b'"}'  # ~100 bytes, like scaling.py's jobs
FILL_BATCH = 10_000
RESTART_TIMEOUT_S = 600.0


async def fill(data_dir: Path, jobs: int) -> float:
    """Write ``jobs`` queued jobs (priorities 0-9) into ``data_dir``; seconds taken."""
    started = time.perf_counter()
    storage = LocalStorage(LocalOptions(data_dir=data_dir, fsync=False, checkpoint_bytes=256 << 20))
    await storage.open()
    now_ms = int(time.time() * 1000) - 60_000
    try:
        for first in range(0, jobs, FILL_BATCH):
            batch = [
                NewJob(id=f"fill-{n:010d}", payload=PAYLOAD, priority=n % 10, eta_ms=now_ms, max_retries=3)
                for n in range(first, min(first + FILL_BATCH, jobs))
            ]
            await storage.insert(QUEUE, batch, now_ms=now_ms, dedup_window_ms=0)
    finally:
        await storage.close()
    return time.perf_counter() - started


def restart_after_kill(server: RunningServer, args: list[str]) -> tuple[RunningServer, float]:
    """SIGKILL ``server``, start a new one on its data dir; seconds from the spawn until it
    is ready and has answered a lease."""
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(RESTART_TIMEOUT_S)
    started = time.perf_counter()
    process, log_path, url, _ = spawn_server(server.log_path.parent, *args, data_dir=server.data_dir, grpc=False)
    wait_ready(process, url, log_path, timeout=RESTART_TIMEOUT_S)
    with Client(url) as client:
        leased = client.lease(QUEUE, max_jobs=1, visibility_ms=60_000)
        elapsed = time.perf_counter() - started
        for job in leased:
            client.ack(job.id, job.lease_id)
    return RunningServer(process, url, None, server.data_dir, log_path), elapsed


def measure(root: Path, jobs: int, seconds: float) -> list[str]:
    data_dir = root / f"backlog-{jobs}" / "data"
    fill_s = asyncio.run(fill(data_dir, jobs)) if jobs else 0.0
    args = server_args("local")
    server = start_server(data_dir.parent, *args, grpc=False, data_dir=data_dir)
    try:
        rates: list[Rate] = [
            drive(server, partial(enqueue_for, queues=[QUEUE], seconds=seconds, batch=1)),
            drive(server, partial(enqueue_for, queues=[QUEUE], seconds=seconds, batch=100)),
            drive(server, partial(lease_ack_for, queue=QUEUE, seconds=seconds, batch=1)),
            drive(server, partial(lease_ack_for, queue=QUEUE, seconds=seconds, batch=100)),
        ]
        served = memory_of(server.pid).anon_mib
        server, restart_s = restart_after_kill(server, args)
        restarted = memory_of(server.pid).anon_mib
    finally:
        server.kill()
    cells = [f"{rate.jobs_per_s:,.0f} (p99 {rate.p99_ms:.1f} ms)" for rate in rates]
    return [f"{jobs:,}", f"{fill_s:.0f} s", *cells, f"{served:,.0f} MiB", f"{restarted:,.0f} MiB", f"{restart_s:.2f} s"]


def burst(root: Path, jobs: int) -> list[str]:
    args = server_args("local")
    server = start_server(root / "burst", *args, grpc=False)
    try:
        rate = drive(server, partial(scaling_fill, queue=QUEUE, total=jobs))
        served = memory_of(server.pid).anon_mib
        server, restart_s = restart_after_kill(server, args)
        restarted = memory_of(server.pid).anon_mib
    finally:
        server.kill()
    cells = [f"{rate.jobs_per_s:,.0f}", f"{served:,.0f} MiB", f"{restarted:,.0f} MiB", f"{restart_s:.2f} s"]
    return [f"{jobs:,}", *cells]


def lease_ack_against(root: Path, other_src: str, rounds: int, seconds: float) -> None:
    print("| engine | lease+ack 1/call jobs/s |")
    print("|---|---:|", flush=True)
    for number in range(rounds):
        for label, python_path in (("other", other_src), ("this", None)):
            env = {} if python_path is None else {"PYTHONPATH": python_path}
            server = start_server(root / f"{label}-{number}", *server_args("local"), grpc=False, env=env)
            try:
                drive(server, partial(scaling_fill, queue=QUEUE, total=60_000))
                rate = drive(server, partial(lease_ack_for, queue=QUEUE, seconds=seconds, batch=1))
            finally:
                server.kill()
            print(f"| {label} | {rate} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="0,100000,10000000", help="queued jobs per data dir, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each timed phase")
    parser.add_argument("--against", help="another version's src directory: compare lease+ack with it instead")
    parser.add_argument("--burst", type=int, help="fill a fresh server with this many jobs over HTTP instead")
    options = parser.parse_args()
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), flush=True)
    if options.burst:
        print("| jobs enqueued | jobs/s | RssAnon after the fill | after SIGKILL + restart ", end="")
        print("| restart to a served lease |")
        print("|---:|---:|---:|---:|---:|", flush=True)
        with tempfile.TemporaryDirectory(prefix="rivetq-backlog-") as directory:
            print("| " + " | ".join(burst(Path(directory), options.burst)) + " |", flush=True)
        return
    if options.against:
        with tempfile.TemporaryDirectory(prefix="rivetq-backlog-") as directory:
            lease_ack_against(Path(directory), options.against, rounds=2, seconds=6.0)
        return
    print(
        "| queued | fill | enqueue 1/call jobs/s | enqueue 100/call | lease+ack 1/call | lease+ack 100/call "
        "| RssAnon after serving | RssAnon after SIGKILL + restart | restart to a served lease |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    with tempfile.TemporaryDirectory(prefix="rivetq-backlog-") as directory:
        for jobs in (int(size) for size in options.sizes.split(",")):
            print("| " + " | ".join(measure(Path(directory), jobs, options.seconds)) + " |", flush=True)


if __name__ == "__main__":
    main()
