"""One rivetqd node on PostgreSQL beside the peer harness's SKIP LOCKED queue, through
the harness itself (../shared/bench/peers, its W1 enqueue and W2 lease+ack phases):

    .venv/bin/python bench/pg_peers.py --jobs 10000

Starts its own PostgreSQL 15 (fsync on, synchronous_commit on) and one rivetqd
(``storage.backend: postgres``) on free loopback ports, runs the harness's ``postgres``
and ``rivetq`` systems (the harness starts its own PostgreSQL for the first, with the
same build and settings) and stops everything at the end. Extra arguments after ``--``
go to the harness (e.g. ``-- --concurrency 16``)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.server import ServerFactory
from tests.pg.cluster import PgCluster

HARNESS = Path(__file__).resolve().parents[2] / "shared" / "bench" / "peers" / "run.py"
HARNESS_PYTHON = "/tmp/peers-venv/bin/python"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--harness", type=Path, default=HARNESS)
    parser.add_argument("extra", nargs="*")
    options = parser.parse_args()
    cluster = PgCluster.launch()
    try:
        with tempfile.TemporaryDirectory() as root:
            os.chmod(root, 0o755)  # the harness's PostgreSQL runs as the postgres user
            factory = ServerFactory(Path(root))
            env = {"RIVETQ_STORAGE_DSN": cluster.create_database()}
            node = factory.start("--storage-backend", "postgres", env=env, grpc=False)
            try:
                harness = [HARNESS_PYTHON, str(options.harness), "--systems", "postgres,rivetq"]
                phases = ["--duration", "5", "--paced-fraction", "0", "--fixed-rate", "0"]
                args = [*harness, "--rivetq-url", node.url, "--jobs", str(options.jobs), *phases, *options.extra]
                workdir = {"PEERS_WORKDIR": str(Path(root) / "peers")}  # the harness's folder stays untouched
                subprocess.run(args, check=True, cwd=options.harness.parent, env=os.environ | workdir)
            finally:
                factory.kill_all()
    finally:
        cluster.destroy()


if __name__ == "__main__":
    main()
