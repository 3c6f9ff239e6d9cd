"""gRPC throughput against a running rivetqd: unary Enqueue, then StreamLease (+ Ack).

    .venv/bin/python bench/grpc_bench.py --target 127.0.0.1:9090 --jobs 20000

Enqueue: ``--callers`` concurrent unary calls on one channel until ``--jobs`` are in.
StreamLease: ``--streams`` streams (``--max-unacked`` each) lease those jobs and ack each
with a unary Ack (AckBatch of each message's jobs with ``--ack-batch``) until all are done.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from typing import Any

import grpc

from rivetq.server.grpc._pb import rivetq_pb2 as pb
from rivetq.server.grpc._pb import rivetq_pb2_grpc as pb_grpc

PAYLOAD = b'{"to": "user@example.com", "template": "welcome", "n": 42}'


async def enqueue(stub: Any, queue: str, jobs: int, callers: int) -> float:
    remaining = iter(range(jobs))

    async def caller() -> None:
        for _ in remaining:
            await stub.Enqueue(pb.EnqueueRequest(queue=queue, payload=PAYLOAD))

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    return jobs / (time.perf_counter() - started)


async def consume(stub: Any, queue: str, jobs: int, streams: int, max_unacked: int, ack_batch: bool) -> float:
    done = 0
    finished = asyncio.Event()

    async def ack(batch: list[pb.Job]) -> None:
        nonlocal done
        if ack_batch:
            items = [pb.AckItem(job_id=job.id, lease_id=job.lease_id) for job in batch]
            results = (await stub.AckBatch(pb.AckBatchRequest(acks=items))).results
            done += sum(result.ok for result in results)
        else:
            await asyncio.gather(*(stub.Ack(pb.AckRequest(job_id=job.id, lease_id=job.lease_id)) for job in batch))
            done += len(batch)
        if done >= jobs:
            finished.set()

    async def stream() -> None:
        call = stub.StreamLease(pb.StreamLeaseRequest(queue=queue, max_unacked=max_unacked))
        acks: set[asyncio.Task[None]] = set()
        async for message in call:
            task = asyncio.create_task(ack(list(message.jobs)))
            acks.add(task)
            task.add_done_callback(acks.discard)

    started = time.perf_counter()
    tasks = [asyncio.create_task(stream()) for _ in range(streams)]
    await finished.wait()
    elapsed = time.perf_counter() - started
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return jobs / elapsed


async def main(args: argparse.Namespace) -> None:
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    async with grpc.aio.insecure_channel(args.target) as channel:
        stub = pb_grpc.RivetQStub(channel)
        rate = await enqueue(stub, queue, args.jobs, args.callers)
        print(f"unary Enqueue: {args.jobs} jobs, {args.callers} callers: {rate:,.0f} jobs/s")
        rate = await consume(stub, queue, args.jobs, args.streams, args.max_unacked, args.ack_batch)
        ack = "AckBatch per message" if args.ack_batch else "unary Ack per job"
        print(f"StreamLease + {ack}: {args.streams} streams x {args.max_unacked} unacked: {rate:,.0f} jobs/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", default="127.0.0.1:9090")
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--callers", type=int, default=16)
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--max-unacked", type=int, default=100)
    parser.add_argument("--ack-batch", action="store_true")
    asyncio.run(main(parser.parse_args()))
