"""Backup tests: real rivetqd processes shipping to a real S3 endpoint (moto_server)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.backup.s3 import Bucket, moto_bucket
from tests.e2e.server import servers

__all__ = ["bucket", "servers"]


@pytest.fixture(scope="module")
def bucket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bucket]:
    with moto_bucket(tmp_path_factory.mktemp("moto")) as started:
        started.switch.on()
        yield started
