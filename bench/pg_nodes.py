"""Throughput of 1, 2 and 3 rivetqd nodes on one PostgreSQL (and the embedded engine
beside them): 8 concurrent HTTP clients spread round-robin over the nodes, first
enqueueing for --seconds, then leasing + acking for --seconds.

    .venv/bin/python bench/pg_nodes.py --seconds 10

Starts its own PostgreSQL 15 (initdb/pg_ctl, fsync on) and rivetqd processes on free
loopback ports, and stops them all at the end."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.server import RunningServer, ServerFactory
from tests.pg.cluster import PgCluster

CLIENTS = 8
JSON = {"Content-Type": "application/json"}


async def _for(
    seconds: float, clients: list[httpx.AsyncClient], call: Callable[[httpx.AsyncClient], Awaitable[int]]
) -> float:
    """Run ``call`` in a loop on every client for ``seconds``; jobs per second."""
    deadline = time.perf_counter() + seconds
    done = 0

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            done += await call(client)

    started = time.perf_counter()
    await asyncio.gather(*(client_loop(c) for c in clients))
    return done / (time.perf_counter() - started)


async def _enqueue(client: httpx.AsyncClient) -> int:
    response = await client.post("/v1/queues/bench/enqueue", json={"payload": {"pad": "x" * 48}}, headers=JSON)
    response.raise_for_status()
    return 1


async def _lease_ack(client: httpx.AsyncClient) -> int:
    response = await client.post("/v1/queues/bench/lease", json={"max_jobs": 1}, headers=JSON)
    response.raise_for_status()
    jobs = response.json()["jobs"]
    for job in jobs:
        ack = await client.post("/v1/ack", json={"job_id": job["id"], "lease_id": job["lease_id"]}, headers=JSON)
        ack.raise_for_status()
    return len(jobs)


async def _measure(nodes: list[RunningServer], seconds: float) -> tuple[float, float]:
    urls = itertools.cycle(node.url for node in nodes)
    clients = [httpx.AsyncClient(base_url=next(urls), timeout=30) for _ in range(CLIENTS)]
    try:
        enqueued = await _for(seconds, clients, _enqueue)
        leased = await _for(seconds, clients, _lease_ack)
    finally:
        for client in clients:
            await client.aclose()
    return enqueued, leased


def _run(label: str, factory: ServerFactory, count: int, args: list[str], env: dict[str, str], seconds: float) -> None:
    nodes = [factory.start(*args, env=env, grpc=False) for _ in range(count)]
    try:
        enqueued, leased = asyncio.run(_measure(nodes, seconds))
    finally:
        for node in nodes:
            node.kill()
    print(f"| {label} | {count} | {enqueued:,.0f} | {leased:,.0f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--max-nodes", type=int, default=3)
    options = parser.parse_args()
    cluster = PgCluster.launch()
    try:
        with tempfile.TemporaryDirectory() as root:
            factory = ServerFactory(Path(root))
            print("| backend | nodes | enqueue jobs/s | lease+ack jobs/s |\n|---|---|---|---|", flush=True)
            _run("local (fsync)", factory, 1, ["--storage-backend", "local"], {}, options.seconds)
            for count in range(1, options.max_nodes + 1):
                env = {"RIVETQ_STORAGE_DSN": cluster.create_database()}
                _run("postgres", factory, count, ["--storage-backend", "postgres"], env, options.seconds)
            factory.kill_all()
    finally:
        cluster.destroy()


if __name__ == "__main__":
    main()
