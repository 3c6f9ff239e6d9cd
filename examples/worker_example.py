"""A worker with a blocking handler; SIGTERM or Ctrl-C drains it.

python -m examples.worker_example    # RIVETQ_URL / RIVETQ_TOKEN, default http://127.0.0.1:8080
rivetqctl worker examples.worker_example:send_email -q emails --concurrency 4   # the same, via the CLI
"""

from __future__ import annotations

import logging
import os

from rivetq import Client, Job, Worker


def send_email(job: Job) -> None:
    """Return to ack; raise to nack (the traceback becomes the job's last_error)."""
    if "@" not in job.payload["to"]:
        raise ValueError(f"bad address {job.payload['to']!r}")
    print(f"sending to {job.payload['to']} (attempt {job.tries + 1} of {job.max_retries + 1})", flush=True)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    url = os.environ.get("RIVETQ_URL", "http://127.0.0.1:8080")
    with Client(url, token=os.environ.get("RIVETQ_TOKEN")) as client:
        Worker(client, "emails", send_email, concurrency=4, visibility_ms=30_000, grace_period_s=30).run()


if __name__ == "__main__":
    main()
