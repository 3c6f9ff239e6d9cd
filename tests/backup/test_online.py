"""Online backups of a running server (REST through rivetqctl, gRPC), to a directory
and to S3, while clients keep writing; each restored and checked."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from rivetq.client.grpc_client import GrpcClient
from rivetq.errors import StateConflict, Unauthenticated
from tests.backup.load import Load, check_restored, drain, restore
from tests.backup.s3 import Bucket
from tests.e2e.server import ServerFactory

TOKEN = "backup-admin-token"
RIVETQCTL = str(Path(sys.executable).parent / "rivetqctl")


def _rivetqctl_backup(url: str, dest: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RIVETQ_URL": url, "RIVETQ_TOKEN": TOKEN}
    return subprocess.run([RIVETQCTL, "backup", dest], env=env, capture_output=True, text=True, timeout=60, check=False)


def test_online_backups_to_a_directory_and_to_s3_restore_what_was_acknowledged_before_them(
    servers: ServerFactory, bucket: Bucket, tmp_path: Path
) -> None:
    server = servers.start("--workers", "2", env=bucket.server_env(), token=TOKEN)  # fronts call the owner
    load = Load(server.url, headers=server.headers).start()
    time.sleep(1.5)
    started = time.time()
    by_rest = _rivetqctl_backup(server.url, str(tmp_path / "by-rest"))
    assert by_rest.returncode == 0, by_rest.stderr
    assert f"backup written to {tmp_path / 'by-rest'}" in by_rest.stdout
    assert server.grpc_target is not None
    with GrpcClient(server.grpc_target, token=TOKEN) as client:
        by_grpc = client.backup(bucket.url("online"))
    finished = time.time()
    time.sleep(0.5)
    load.stop()
    server.kill()
    assert load.refused == []
    assert by_grpc.url == bucket.url("online") and by_grpc.last_lsn >= by_grpc.snapshot_lsn

    for source in (str(tmp_path / "by-rest"), bucket.url("online")):
        data_dir = tmp_path / f"restored-{len(list(tmp_path.glob('restored-*')))}"
        restored = restore(source, data_dir, bucket.server_env())
        assert restored.returncode == 0, restored.stderr
        check_restored(load, drain(servers.start(data_dir=data_dir).url), started, until=finished)


def test_a_backup_needs_the_token_over_rest_and_grpc(servers: ServerFactory, tmp_path: Path) -> None:
    server = servers.start(token=TOKEN)
    answer = httpx.post(f"{server.url}/v1/admin/backup", json={"dest": str(tmp_path / "nope")})
    assert answer.status_code == 401
    assert server.grpc_target is not None
    with GrpcClient(server.grpc_target) as client, pytest.raises(Unauthenticated):
        client.backup(str(tmp_path / "nope"))
    assert not (tmp_path / "nope").exists()
    empty = httpx.post(f"{server.url}/v1/admin/backup", json={"dest": ""}, headers=server.headers)
    assert empty.status_code == 400 and "dest" in empty.text


def test_a_backend_without_online_backups_says_what_to_use(servers: ServerFactory, tmp_path: Path) -> None:
    server = servers.start("--storage-backend", "memory")
    answer = httpx.post(f"{server.url}/v1/admin/backup", json={"dest": str(tmp_path / "nope")})
    assert answer.status_code == 409
    assert "memory storage backend" in answer.json()["error"]["message"]
    assert server.grpc_target is not None
    with GrpcClient(server.grpc_target) as client, pytest.raises(StateConflict, match="memory storage backend"):
        client.backup(str(tmp_path / "nope"))


def test_s3_that_refuses_is_one_line_naming_the_bucket_on_every_edge(
    servers: ServerFactory, bucket: Bucket, tmp_path: Path
) -> None:
    no_credentials = {
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    }
    env = {**bucket.server_env(), **no_credentials}
    server = servers.start(env=env)
    answer = httpx.post(f"{server.url}/v1/admin/backup", json={"dest": bucket.url("refused")})
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["message"] == f"backup target {bucket.url('refused')}: Unable to locate credentials"
    missing = bucket.url("refused").replace("s3://rivetq-backups/", "s3://no-such-bucket/")
    restored = restore(missing, tmp_path / "restored", bucket.server_env())
    assert restored.returncode == 1
    assert restored.stderr.startswith(f"rivetqd restore: backup target {missing}: An error occurred (NoSuchBucket)")
    assert "Traceback" not in restored.stderr
