"""The committed generated code is what scripts/gen-proto.sh makes from the proto."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "src" / "rivetq" / "server" / "grpc" / "_pb"


def test_generated_code_matches_the_proto(tmp_path: Path) -> None:
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "gen-proto.sh"), str(tmp_path)],
        check=True,
        env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
    )
    fresh = sorted(path.name for path in tmp_path.iterdir())
    committed = sorted(path.name for path in GENERATED.iterdir() if path.is_file())
    assert fresh == committed
    for name in fresh:
        assert (tmp_path / name).read_bytes() == (GENERATED / name).read_bytes(), f"{name} is stale: run make proto"
