"""Online backups of a running server (REST through rivetqctl, gRPC), to a directory
and to S3, while clients keep writing; each restored and checked."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from rivetq.backup.target import dir_failures
from rivetq.client.grpc_client import GrpcClient
from rivetq.errors import InvalidArgument, StateConflict, StorageUnavailable, Unauthenticated
from tests.backup.load import Load, check_restored, drain, restore
from tests.backup.s3 import Bucket
from tests.e2e.server import RunningServer, ServerFactory

TOKEN = "backup-admin-token"
RIVETQCTL = str(Path(sys.executable).parent / "rivetqctl")


def _rivetqctl_backup(url: str, dest: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RIVETQ_URL": url, "RIVETQ_TOKEN": TOKEN}
    return subprocess.run(
        [RIVETQCTL, "backup", dest], env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def _refused(server: RunningServer, dest: str) -> Any:
    """The error of a backup to ``dest`` the server must refuse as a bad ``dest``."""
    answer = httpx.post(f"{server.url}/v1/admin/backup", json={"dest": dest}, headers=server.headers)
    assert answer.status_code == 400, (dest, answer.text)
    error = answer.json()["error"]
    assert error["code"] == "invalid_argument" and error["field"] == "dest", error
    assert error["message"].startswith("dest: "), error
    return error


def _no_tracebacks(server: RunningServer) -> None:
    assert "Traceback" not in server.log_path.read_text()


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


def test_a_directory_that_cannot_hold_a_backup_is_a_bad_dest_naming_the_path_and_the_reason(
    servers: ServerFactory, tmp_path: Path
) -> None:
    server = servers.start(token=TOKEN)
    (tmp_path / "file").write_text("not a directory")
    for dest, reason in (
        ("/proc/rivetq-backup", "No such file or directory"),
        (str(tmp_path / "file" / "sub"), "Not a directory"),
        (str(tmp_path / "file"), "Not a directory"),
        ("/dev/null", "Not a directory"),
    ):
        assert _refused(server, dest)["message"] == f"dest: cannot write a backup to {dest}: {reason}"
    by_cli = _rivetqctl_backup(server.url, "/dev/null")
    assert by_cli.returncode != 0 and "HTTP 500" not in by_cli.stderr
    assert "cannot write a backup to /dev/null: Not a directory" in by_cli.stderr
    assert (tmp_path / "file").read_text() == "not a directory"
    _no_tracebacks(server)


def test_a_backup_into_the_live_data_directory_is_refused_however_it_is_named(
    servers: ServerFactory, tmp_path: Path
) -> None:
    server = servers.start(token=TOKEN)
    data_dir = server.data_dir
    (tmp_path / "link").symlink_to(data_dir)
    before = sorted(path.name for path in data_dir.iterdir())
    for dest, relation in (
        (data_dir, "is"),
        (data_dir / "wal", "is inside"),
        (data_dir / "kv", "is inside"),
        (data_dir / "new" / "sub", "is inside"),
        (data_dir.parent, "contains"),
        (tmp_path / "link" / "wal", "is inside"),
        (data_dir / ".." / data_dir.name, "is"),
    ):
        message = _refused(server, str(dest))["message"]
        assert message.startswith(f"dest: {dest} {relation} the server's data directory ({data_dir.resolve()})")
    assert sorted(path.name for path in data_dir.iterdir()) == before  # nothing written into the live store
    assert server.grpc_target is not None
    with GrpcClient(server.grpc_target, token=TOKEN) as client, pytest.raises(InvalidArgument) as refused:
        client.backup(str(data_dir / "wal"))
    assert refused.value.field == "dest" and "is inside the server's data directory" in refused.value.message
    _no_tracebacks(server)


def test_a_relative_dest_is_refused_not_resolved_in_the_servers_directory(
    servers: ServerFactory, tmp_path: Path
) -> None:
    server = servers.start(token=TOKEN)
    caller = tmp_path / "caller"
    caller.mkdir()
    for dest in ("mybackup", "file:mybackup"):
        message = _refused(server, dest)["message"]
        assert message == (
            "dest: 'mybackup' is a relative path: give an absolute path on the server's host, or s3://bucket/prefix"
        )
    by_cli = _rivetqctl_backup(server.url, "mybackup", cwd=caller)
    assert by_cli.returncode != 0 and "give an absolute path on the server's host" in by_cli.stderr
    assert not (server.data_dir.parent / "mybackup").exists() and not (caller / "mybackup").exists()


def test_a_malformed_dest_names_the_dest_field(servers: ServerFactory) -> None:
    server = servers.start(token=TOKEN)
    assert _refused(server, "s3://")["message"] == "dest: 's3://' names no bucket (s3://bucket/prefix)"
    assert _refused(server, "ftp://host/x")["message"].startswith("dest: 'ftp://host/x': expected a directory")
    assert (
        _refused(server, "file://host/x")["message"] == "dest: 'file://host/x' names a host: a file URL is file:///path"
    )


def test_a_disk_failing_mid_write_is_storage_unavailable_not_a_bad_dest() -> None:
    # a full disk cannot be made on demand without privileges: the classification alone
    for failure in (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EMFILE):
        with pytest.raises(StorageUnavailable) as unavailable, dir_failures("/mnt/b", field="dest"):
            raise OSError(failure, os.strerror(failure), "/mnt/b/wal/1/.tmp-x")
        assert unavailable.value.message == f"backup target /mnt/b: /mnt/b/wal/1/.tmp-x: {os.strerror(failure)}"
    with pytest.raises(InvalidArgument) as invalid, dir_failures("/mnt/b", field="dest"):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/mnt/b")
    assert (invalid.value.field, invalid.value.message) == (
        "dest",
        "dest: cannot write a backup to /mnt/b: Permission denied",
    )
    with pytest.raises(OSError, match="short read"), dir_failures("/mnt/b", field="dest"):
        raise OSError("short read")  # no errno: not the OS's, left alone
