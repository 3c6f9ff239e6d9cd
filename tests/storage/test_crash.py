"""Crash tests with real processes: a child writes under concurrency with fsync on
and reports every acknowledged write; it is SIGKILLed at a random moment; the data
dir is verified and reopened, and every acknowledged insert must be there, every
acknowledged ack gone, and nothing unknown present. Repeated with different timing,
on the same data dir (each round also recovers the previous rounds' crashes), and
with checkpoints back to back or tiny segments so kills land mid-checkpoint and
mid-rotation."""

from __future__ import annotations

import asyncio
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rivetq.errors import JobNotFound
from rivetq.storage.local import LocalOptions, LocalStorage
from rivetq.storage.local.verify import verify_data_dir
from tests.storage.crash_child import SETTINGS

REPO = Path(__file__).resolve().parents[2]
T_FAR = 2**50  # lists every job as ready or inflight, whatever its eta


@dataclass
class Acknowledged:
    inserted: set[str] = field(default_factory=set)
    acking: set[str] = field(default_factory=set)  # an ack was tried: there or gone are both fine
    acked: set[str] = field(default_factory=set)


async def run_child_and_kill(data_dir: Path, mode: str, round_no: int, delay_s: float) -> list[str]:
    child = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "tests.storage.crash_child", str(data_dir), mode, str(round_no)),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None
    try:
        first = await child.stdout.readline()
        assert first == b"READY -\n", f"child did not start: {first!r}"
        await asyncio.sleep(delay_s)  # a real kill at a random moment is the point
    finally:
        child.kill()
        rest = await child.stdout.read()
        await child.wait()
    return [line for line in rest.decode().splitlines(keepends=True) if line.endswith("\n")]


async def check_recovered(data_dir: Path, mode: str, seen: Acknowledged) -> None:
    assert verify_data_dir(data_dir) == []
    storage = LocalStorage(LocalOptions(data_dir=data_dir, **SETTINGS[mode]))  # type: ignore[arg-type]
    await storage.open()
    try:
        for job_id in seen.inserted - seen.acking:
            assert (await storage.get(job_id)).id == job_id, f"acknowledged insert {job_id} lost"
        for job_id in seen.acked:
            with pytest.raises(JobNotFound):
                await storage.get(job_id)
        page = await storage.list_jobs("crash", state=None, limit=1_000_000, cursor=None, now_ms=T_FAR)
        present = {job.id for job in page.jobs}
        assert not present & seen.acked, "an acked job came back"
        assert all(job_id.startswith("r") for job_id in present)
        stats = await storage.stats("crash", now_ms=T_FAR)
        assert stats is not None and stats.ready + stats.inflight + stats.dlq + stats.delayed == len(present)
    finally:
        await storage.close()


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "rounds"), [("mixed", 20), ("checkpoint", 8), ("rotation", 8)])
async def test_kill_at_random_moments_loses_no_acknowledged_write(tmp_path: Path, mode: str, rounds: int) -> None:
    rng = random.Random(f"{mode}-crash")
    seen = Acknowledged()
    total_lines = 0
    for round_no in range(rounds):
        lines = await run_child_and_kill(tmp_path, mode, round_no, rng.uniform(0.05, 0.5))
        total_lines += len(lines)
        for line in lines:
            kind, job_id = line.split()
            {"I": seen.inserted, "T": seen.acking, "A": seen.acked}[kind].add(job_id)
        await check_recovered(tmp_path, mode, seen)
    assert seen.acked and total_lines > rounds  # the children did real work before dying
