"""An asyncio worker: many handlers share one event loop; SIGTERM or Ctrl-C drains it.

python -m examples.async_worker_example
"""

from __future__ import annotations

import asyncio
import logging
import os

from rivetq import AsyncClient, AsyncWorker, Job


async def send_email(job: Job) -> None:
    await asyncio.sleep(0.1)  # an HTTP call to the mail service, say
    print(f"sent to {job.payload['to']}", flush=True)


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    url = os.environ.get("RIVETQ_URL", "http://127.0.0.1:8080")
    async with AsyncClient(url, token=os.environ.get("RIVETQ_TOKEN")) as client:
        await AsyncWorker(client, "emails", send_email, concurrency=50).run()


if __name__ == "__main__":
    asyncio.run(main())
