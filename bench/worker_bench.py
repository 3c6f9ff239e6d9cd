"""How fast the Python SDK's ``Worker`` drains a queue against a running rivetqd, with a
handler that does nothing (so the worker loop and the server are what is measured).

    .venv/bin/python bench/worker_bench.py --url http://127.0.0.1:8080 --jobs 5000 --concurrency 1

Enqueues ``--jobs`` jobs in batches first (not timed), then runs one ``Worker`` until
the queue's ``acked_total`` reaches ``--jobs`` and prints jobs/s.
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid

from rivetq import Client, Job, Worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    queue = f"worker-bench-{uuid.uuid4().hex[:8]}"

    def nothing(job: Job) -> None:
        return None

    with Client(args.url) as client:
        for start in range(0, args.jobs, 1000):
            client.enqueue_batch(queue, [{"payload": n} for n in range(start, min(start + 1000, args.jobs))])
        worker = Worker(client, queue, nothing, concurrency=args.concurrency, handle_signals=False)
        thread = threading.Thread(target=worker.run, daemon=True)
        started = time.perf_counter()
        thread.start()
        while client.stats(queue).acked_total < args.jobs:
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        worker.stop()
        thread.join()
    rate = args.jobs / elapsed
    print(f"worker, concurrency {args.concurrency}: {rate:,.0f} jobs/s ({args.jobs} jobs in {elapsed:.2f} s)")


if __name__ == "__main__":
    main()
