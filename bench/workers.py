"""Single-job REST throughput of ``rivetqd --workers N`` and each process's CPU per call.

Starts a fresh server (embedded engine, ``wal.fsync: true``) for each worker count, runs
``rivetq-bench phases`` against it (enqueue --jobs jobs, then lease and ack them all) and
reads every process's CPU time from /proc before and after: CPU per call = the process's
CPU time ÷ (enqueue + lease + ack calls).

    flock /tmp/rivetq-bench.lock .venv/bin/python bench/workers.py --workers 1,2 --clients 8,64
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.server import RunningServer, start_server

_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_S  # utime + stime


def _load(server: RunningServer, clients: int, jobs: int, out: Path) -> dict[str, float]:
    bench = Path(sys.executable).parent / "rivetq-bench"
    subprocess.run(
        [str(bench), "--url", server.url, "--connections", str(clients), "--json-out", str(out), "phases",
         "--jobs", str(jobs), "--producers", str(clients), "--consumers", str(clients)],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.read_text())
    return result


def run(workers: int, clients: int, jobs: int) -> None:
    with (
        tempfile.TemporaryDirectory() as directory,
        start_server(Path(directory), "--workers", str(workers), grpc=False) as server,
    ):
        processes = server.processes()
        before = {role: _cpu_s(pid) for role, pid in processes.items()}
        result = _load(server, clients, jobs, Path(directory) / "result.json")
        after = {role: _cpu_s(pid) for role, pid in processes.items()}
    calls = 3 * jobs
    cpu = ", ".join(f"{role} {(after[role] - before[role]) / calls * 1e6:.0f}" for role in sorted(processes))
    enqueue, lease_ack = result["enqueue_jobs_per_s"], result["acked_jobs_per_s"]
    print(f"| {workers} | {clients} / {clients} | {enqueue:,.0f} | {lease_ack:,.0f} | {cpu} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--clients", default="8,64", help="comma-separated producer (= consumer) counts")
    parser.add_argument("--jobs", type=int, default=20_000)
    args = parser.parse_args()
    print("| workers | producers / consumers | enqueue jobs/s | lease+ack jobs/s | CPU µs per call, by process |")
    print("|---:|---:|---:|---:|---|")
    for clients in (int(c) for c in args.clients.split(",")):
        for workers in (int(w) for w in args.workers.split(",")):
            run(workers, clients, args.jobs)


if __name__ == "__main__":
    main()
