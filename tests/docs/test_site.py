"""The docs site's strict build is a real check: a page left out of the nav or a link to
a missing page fails it (MkDocs only reports those when mkdocs.yml asks it to)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def build(root: Path) -> subprocess.CompletedProcess[str]:
    mkdocs = Path(sys.executable).parent / "mkdocs"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    command = [str(mkdocs), "build", "--strict", "--site-dir", str(root / "site")]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=False)


@pytest.fixture
def site_copy(tmp_path: Path) -> Path:
    """mkdocs.yml, docs/ and the hooks, copied to build apart from the checkout."""
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", tmp_path / "docs", ignore=shutil.ignore_patterns("openapi.json"))
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "docs_hooks.py", tmp_path / "scripts" / "docs_hooks.py")
    return tmp_path


def test_the_site_builds_strictly(site_copy: Path) -> None:
    done = build(site_copy)
    assert done.returncode == 0, done.stderr
    assert (site_copy / "site" / "reference" / "openapi.json").is_file()


def test_a_page_outside_the_nav_fails_the_build(site_copy: Path) -> None:
    (site_copy / "docs" / "orphan.md").write_text("# Orphan\n")
    done = build(site_copy)
    assert done.returncode == 1
    assert "orphan.md" in done.stderr


def test_a_broken_link_fails_the_build(site_copy: Path) -> None:
    with (site_copy / "docs" / "index.md").open("a") as page:
        page.write("\nSee [the missing page](missing.md).\n")
    done = build(site_copy)
    assert done.returncode == 1
    assert "missing.md" in done.stderr
