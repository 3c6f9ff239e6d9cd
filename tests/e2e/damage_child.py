"""Runs ``wal verify``'s check on a data dir, then opens it the way rivetqd does and reads
every job back, in a process of its own (a damaged LMDB page must not take the test
runner down with it). Prints one JSON line: ``{"verify": [problem, ...], "startup": "ok" |
"corrupt: ...", "jobs": {id: payload} | null, "read": "ok" | "corrupt: ..."}``.

Usage: python -m tests.e2e.damage_child QUEUE DATA_DIR... (one line per data dir, each
checked in a forked process: a crash there is reported as ``{"died": status}``).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from rivetq.errors import StorageCorrupt
from rivetq.storage.local import LocalOptions, LocalStorage
from rivetq.storage.local.verify import verify_data_dir

T_FAR = 2**50


async def read_back(storage: LocalStorage, queue: str) -> dict[str, str]:
    """Every job by its listing, then through the orders a server reads (stats, leases,
    lease expiries), so damage to any index is met."""
    page = await storage.list_jobs(queue, state=None, limit=1_000_000, cursor=None, now_ms=T_FAR)
    jobs = {job.id: (await storage.get(job.id)).payload.decode(errors="replace") for job in page.jobs}
    await storage.stats(queue, now_ms=T_FAR)
    await storage.expired_leases(now_ms=T_FAR, limit=1_000_000)
    await storage.lease(queue, max_jobs=1_000_000, visibility_ms=1000, now_ms=T_FAR, new_lease_id=lambda: "check")
    return jobs


async def main(data_dir: Path, queue: str) -> dict[str, object]:
    return {"verify": verify_data_dir(data_dir), **await open_and_read(data_dir, queue)}


async def open_and_read(data_dir: Path, queue: str) -> dict[str, object]:
    storage = LocalStorage(LocalOptions(data_dir=data_dir))
    try:
        await storage.open()
    except StorageCorrupt as error:
        return {"startup": f"corrupt: {error}", "jobs": None, "read": None}
    try:
        return {"startup": "ok", "jobs": await read_back(storage, queue), "read": "ok"}
    except StorageCorrupt as error:
        return {"startup": "ok", "jobs": None, "read": f"corrupt: {error}"}
    finally:
        storage._core.stop_checkpoints()  # leave the files as they are: no closing checkpoint
        if storage._checkpointer is not None:
            await storage._checkpointer
        await storage._core.wal.close()
        storage._core._release()


def check_in_fork(data_dir: Path, queue: str) -> None:
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        print(json.dumps(asyncio.run(main(data_dir, queue))), flush=True)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        print(json.dumps({"died": status}), flush=True)


if __name__ == "__main__":
    for path in sys.argv[2:]:
        check_in_fork(Path(path), sys.argv[1])
