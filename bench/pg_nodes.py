"""Throughput of 1, 2 and 3 rivetqd nodes on one PostgreSQL (and the embedded engine
beside them): 8 concurrent HTTP clients spread round-robin over the nodes, first
enqueueing for --seconds, then leasing + acking until the queue is empty.

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
from typing import Any

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.server import RunningServer, ServerFactory
from tests.pg.cluster import PgCluster

CLIENTS = 8
JSON = {"Content-Type": "application/json"}


class Client:
    """One HTTP client bound to one node (aiohttp: httpx's async client is far slower)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = aiohttp.ClientSession(headers=JSON)

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        async with self.session.post(self.url + path, data=orjson.dumps(body)) as response:
            response.raise_for_status()
            return orjson.loads(await response.read())


async def _rate(clients: list[Client], call: Callable[[Client], Awaitable[int]], until: float | None) -> float:
    """Run ``call`` in a loop on every client, for ``until`` seconds or (None) until it
    finds nothing more to do; jobs per second."""
    deadline = None if until is None else time.perf_counter() + until
    done = 0

    async def client_loop(client: Client) -> None:
        nonlocal done
        while deadline is None or time.perf_counter() < deadline:
            count = await call(client)
            done += count
            if count == 0 and deadline is None:
                return

    started = time.perf_counter()
    await asyncio.gather(*(client_loop(c) for c in clients))
    return done / (time.perf_counter() - started)


async def _enqueue(client: Client) -> int:
    await client.post("/v1/queues/bench/enqueue", {"payload": {"pad": "x" * 48}})
    return 1


async def _lease_ack(client: Client) -> int:
    jobs = (await client.post("/v1/queues/bench/lease", {"max_jobs": 1}))["jobs"]
    for job in jobs:
        await client.post("/v1/ack", {"job_id": job["id"], "lease_id": job["lease_id"]})
    return len(jobs)


async def _measure(nodes: list[RunningServer], seconds: float) -> tuple[float, float]:
    urls = itertools.cycle(node.url for node in nodes)
    clients = [Client(next(urls)) for _ in range(CLIENTS)]
    try:
        enqueued = await _rate(clients, _enqueue, seconds)
        leased = await _rate(clients, _lease_ack, None)  # drains what was enqueued
    finally:
        for client in clients:
            await client.session.close()
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
