"""Continuous WAL shipping to S3 (moto_server), end to end: real servers under load,
SIGKILL, restore from the bucket, and the restored server's jobs checked against what
the clients were told."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx

from tests.backup.load import Load, check_restored, drain, restore
from tests.backup.s3 import Bucket
from tests.e2e.server import ServerFactory

LOSS_WINDOW_S = 3.0  # backup.interval (0.3 s) plus an upload, with room for a slow machine
SHIPPING = {"RIVETQ_BACKUP_INTERVAL": "300ms", "RIVETQ_WAL_SEGMENT_SIZE": "256KiB"}


def _gauge(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not in /metrics"
    return float(match[1])


def _wait_until(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_restore_after_sigkill_and_a_lost_disk_brings_back_every_write_older_than_the_loss_window(
    servers: ServerFactory, bucket: Bucket, tmp_path: Path
) -> None:
    env = {**bucket.server_env(), **SHIPPING, "RIVETQ_BACKUP_URL": bucket.url("kill"),
           "RIVETQ_BACKUP_SNAPSHOT_INTERVAL": "2s"}  # fmt: skip
    server = servers.start(env=env)
    load = Load(server.url).start()
    time.sleep(4.5)
    middle = time.time()
    time.sleep(2.5)
    load.stop()
    killed_at = time.time()
    server.kill()
    assert load.refused == []
    assert len([key for key in bucket.keys("kill/snapshots/")]) >= 2, "snapshots are taken on their interval"

    latest = restore(bucket.url("kill"), tmp_path / "latest", bucket.server_env())
    assert latest.returncode == 0, latest.stderr
    assert "verified" in latest.stdout
    restored = servers.start(data_dir=tmp_path / "latest")
    check_restored(load, drain(restored.url), killed_at - LOSS_WINDOW_S)
    restored.kill()

    when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(middle)) + f".{int(middle * 1000) % 1000:03d}Z"
    earlier = restore(bucket.url("kill"), tmp_path / "earlier", bucket.server_env(), "--to", when)
    assert earlier.returncode == 0, earlier.stderr
    restored = servers.start(data_dir=tmp_path / "earlier")
    check_restored(load, drain(restored.url), middle - LOSS_WINDOW_S, until=middle + 0.1)


def test_a_bucket_that_goes_away_refuses_no_write_and_shipping_catches_up(
    servers: ServerFactory, bucket: Bucket, tmp_path: Path
) -> None:
    env = {**bucket.server_env(), **SHIPPING, "RIVETQ_BACKUP_URL": bucket.url("away")}
    server = servers.start("--workers", "2", env=env)  # the storage owner ships; its gauges reach /metrics
    _wait_until(lambda: _gauge(server.url, "rivetq_backup_shipped_lsn") >= 0)
    bucket.switch.off()
    try:
        load = Load(server.url).start()
        time.sleep(2.5)
        load.stop()
        assert load.refused == []
        assert _gauge(server.url, "rivetq_backup_lag_seconds") > 1
        assert _gauge(server.url, "rivetq_backup_upload_errors_total") >= 1
        ready = httpx.get(f"{server.url}/readyz")
        assert ready.status_code == 200
        assert "shipping the WAL to backup.url fails" in ready.json()["notices"][0]
        assert bucket.endpoint not in ready.text
    finally:
        bucket.switch.on()
    _wait_until(lambda: _gauge(server.url, "rivetq_backup_lag_seconds") == 0)
    assert "notices" not in httpx.get(f"{server.url}/readyz").json()
    server.kill()
    restored = restore(bucket.url("away"), tmp_path / "restored", bucket.server_env())
    assert restored.returncode == 0, restored.stderr
    check_restored(load, drain(servers.start(data_dir=tmp_path / "restored").url), cutoff=time.time())
