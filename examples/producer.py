"""Enqueue a few jobs and print the queue's stats.

python -m examples.producer          # RIVETQ_URL / RIVETQ_TOKEN, default http://127.0.0.1:8080
"""

from __future__ import annotations

import os

from rivetq import Client


def main() -> None:
    url = os.environ.get("RIVETQ_URL", "http://127.0.0.1:8080")
    with Client(url, token=os.environ.get("RIVETQ_TOKEN")) as client:
        for n in range(3):
            job_id = client.enqueue("emails", {"to": f"user{n}@example.com", "subject": "Hello"}, priority=7)
            print("enqueued", job_id)
        # Safe to retry: a second enqueue with the same key returns the first job's id.
        client.enqueue("emails", {"to": "boss@example.com"}, idempotency_key="report-2030-01-01")
        stats = client.stats("emails")
        print(f"ready={stats.ready} delayed={stats.delayed} inflight={stats.inflight} dlq={stats.dlq}")


if __name__ == "__main__":
    main()
