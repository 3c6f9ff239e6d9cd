"""Single-job REST throughput of ``rivetqd --workers N`` and each process's CPU per call.

Starts a fresh server (embedded engine, ``wal.fsync: true``) for each worker count, runs
a load against it (enqueue --jobs jobs, then lease and ack them all) and reads every
process's CPU time from /proc before and after: CPU per call = the process's CPU time ÷
(enqueue + lease + ack calls). The load generator's own CPU per call is reported too: on
a small machine it competes with the server for the same cores.

``--load python`` is ``rivetq-bench phases`` (asyncio + httpx, like the peer harness's
aiohttp client: ~110 µs of CPU per call at 64 clients); ``--load go`` is
``bench/loadgen`` (Go's net/http, a few times cheaper), which leaves the cores to the server.

    flock /tmp/rivetq-bench.lock .venv/bin/python bench/workers.py --workers 1,2 --clients 8,64
    flock /tmp/rivetq-bench.lock .venv/bin/python bench/workers.py --load go
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.server import start_server

_LOADGEN = Path(__file__).resolve().parent / "loadgen"
_TICKS_PER_S = os.sysconf("SC_CLK_TCK")

_HEADER = """\
| workers | producers / consumers | enqueue jobs/s | lease+ack jobs/s | server CPU µs per call, by process \
| load generator CPU µs per call |
|---:|---:|---:|---:|---|---:|"""

Load = Callable[[str, int, int, Path], tuple[float, float]]  # url, clients, jobs, JSON out → jobs/s


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_S  # utime + stime


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _python_load(url: str, clients: int, jobs: int, out: Path) -> tuple[float, float]:
    bench = Path(sys.executable).parent / "rivetq-bench"
    subprocess.run(
        [str(bench), "--url", url, "--connections", str(clients), "--json-out", str(out), "phases",
         "--jobs", str(jobs), "--producers", str(clients), "--consumers", str(clients)],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.read_text())
    return result["enqueue_jobs_per_s"], result["acked_jobs_per_s"]


def _go_load(binary: Path) -> Load:
    def load(url: str, clients: int, jobs: int, out: Path) -> tuple[float, float]:
        subprocess.run(
            [str(binary), "-url", url, "-clients", str(clients), "-jobs", str(jobs), "-json-out", str(out)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        result = json.loads(out.read_text())
        return result["enqueue"]["jobs_per_s"], result["lease_ack"]["jobs_per_s"]

    return load


def run(load: Load, workers: int, clients: int, jobs: int) -> None:
    with (
        tempfile.TemporaryDirectory() as directory,
        start_server(Path(directory), "--workers", str(workers), grpc=False) as server,
    ):
        processes = server.processes()
        before = {role: _cpu_s(pid) for role, pid in processes.items()}
        client_before = _children_cpu_s()
        enqueue, lease_ack = load(server.url, clients, jobs, Path(directory) / "result.json")
        client_s = _children_cpu_s() - client_before
        after = {role: _cpu_s(pid) for role, pid in processes.items()}
    calls = 3 * jobs
    cpu = ", ".join(f"{role} {(after[role] - before[role]) / calls * 1e6:.0f}" for role in sorted(processes))
    rates = f"{enqueue:,.0f} | {lease_ack:,.0f}"
    print(f"| {workers} | {clients} / {clients} | {rates} | {cpu} | {client_s / calls * 1e6:.0f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--clients", default="8,64", help="comma-separated producer (= consumer) counts")
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--load", choices=("python", "go"), default="python", help="the load generator")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as build:
        load: Load = _python_load
        if args.load == "go":
            binary = Path(build) / "loadgen"
            subprocess.run(["go", "build", "-o", str(binary), "."], cwd=_LOADGEN, check=True)
            load = _go_load(binary)
        print(_HEADER)
        for clients in (int(c) for c in args.clients.split(",")):
            for workers in (int(w) for w in args.workers.split(",")):
                run(load, workers, clients, args.jobs)


if __name__ == "__main__":
    main()
