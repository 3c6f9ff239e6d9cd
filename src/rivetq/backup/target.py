"""Where backups go: a directory (``/path`` or ``file:///path``) or an S3-compatible
bucket (``s3://bucket/prefix``). Keys are ``/``-separated paths under the target; a
put is all or nothing (a temp file renamed in a directory, one PUT in S3)."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol
from urllib.parse import urlparse

from rivetq.errors import InvalidArgument, StorageUnavailable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "BackupTarget",
    "DirTarget",
    "S3Target",
    "TargetURL",
    "dir_failures",
    "fsync_dir",
    "make_dir",
    "open_target",
    "overlap_with",
    "parse_url",
    "s3_failures",
]

_CONNECT_TIMEOUT_S = 3
_READ_TIMEOUT_S = 30
# OS errors saying a directory target is no place for a backup (any other is a failure of the disk or system)
_BAD_PLACE = frozenset({
    errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.EACCES, errno.EPERM,
    errno.EROFS, errno.ENAMETOOLONG, errno.ELOOP,
})  # fmt: skip


class BackupTarget(Protocol):
    url: str

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def put_file(self, key: str, path: Path) -> None: ...

    def get_bytes(self, key: str) -> bytes: ...

    def get_file(self, key: str, path: Path) -> None: ...

    def list_keys(self, prefix: str) -> list[str]:
        """Every key starting with ``prefix``, sorted."""
        ...

    def delete(self, keys: list[str]) -> None: ...


class DirTarget:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)

    def _path(self, key: str) -> Path:
        return self.root / key

    def _write(self, key: str, fill: Callable[[Path], object]) -> None:
        final = self._path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=final.parent, prefix=".tmp-")
        os.close(fd)
        try:
            fill(Path(temp))
            with open(temp, "rb") as file:
                os.fsync(file.fileno())
            os.replace(temp, final)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        fsync_dir(final.parent)

    def put_bytes(self, key: str, data: bytes) -> None:
        self._write(key, lambda temp: temp.write_bytes(data))

    def put_file(self, key: str, path: Path) -> None:
        self._write(key, lambda temp: shutil.copyfile(path, temp))

    def get_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def get_file(self, key: str, path: Path) -> None:
        shutil.copyfile(self._path(key), path)

    def list_keys(self, prefix: str) -> list[str]:
        if not self.root.is_dir():
            return []
        found = (path.relative_to(self.root).as_posix() for path in self.root.rglob("*") if path.is_file())
        return sorted(key for key in found if key.startswith(prefix) and not Path(key).name.startswith(".tmp-"))

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)


class S3Target:
    def __init__(self, bucket: str, prefix: str, client: S3Client, url: str) -> None:
        self.bucket, self.prefix, self.url = bucket, prefix, url
        self._client = client

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def put_bytes(self, key: str, data: bytes) -> None:
        self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def put_file(self, key: str, path: Path) -> None:
        self._client.upload_file(str(path), self.bucket, self._key(key))

    def get_bytes(self, key: str) -> bytes:
        return self._client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()

    def get_file(self, key: str, path: Path) -> None:
        self._client.download_file(self.bucket, self._key(key), str(path))

    def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._key(prefix))
        for page in pages:
            keys.extend(item["Key"].removeprefix(self.prefix) for item in page.get("Contents", ()))
        return sorted(keys)

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # the most one DeleteObjects call takes
            objects = [{"Key": self._key(key)} for key in keys[start : start + 1000]]
            self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})  # type: ignore[typeddict-item]


class TargetURL(NamedTuple):
    bucket: str  # "" for a directory
    path: str  # the key prefix in the bucket ("" or ending in /), or the directory as given (maybe relative)


def parse_url(url: str, *, field: str = "url") -> TargetURL:
    """``s3://bucket/prefix``, ``file:///path`` or a path; ``InvalidArgument`` naming
    ``field`` for anything else."""
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise InvalidArgument(f"{field}: {url!r} names no bucket (s3://bucket/prefix)", field=field)
        prefix = parsed.path.strip("/")
        return TargetURL(parsed.netloc, f"{prefix}/" if prefix else "")
    if parsed.scheme == "file" and parsed.netloc not in ("", "localhost"):
        raise InvalidArgument(f"{field}: {url!r} names a host: a file URL is file:///path", field=field)
    if parsed.scheme in ("", "file") and (path := parsed.path if parsed.scheme == "file" else url):
        return TargetURL("", path)
    raise InvalidArgument(f"{field}: {url!r}: expected a directory, file:///path or s3://bucket/prefix", field=field)


def open_target(url: str, *, endpoint: str = "", region: str = "") -> BackupTarget:
    """The target ``url`` names (a relative directory from the working directory); S3
    through boto3's standard credential chain (environment, shared files, instance roles),
    at ``endpoint`` for S3-compatible stores."""
    parsed = parse_url(url)
    if parsed.bucket:
        return S3Target(parsed.bucket, parsed.path, _s3_client(endpoint, region), url)
    return DirTarget(Path(parsed.path).absolute())


def overlap_with(dest: Path, data_dir: Path) -> str | None:
    """How the directory ``dest`` overlaps a live ``data_dir`` ("is", "is inside",
    "contains"), symlinks resolved, or None: a backup there would be written into the data
    it protects (or read back as part of it)."""
    dest, data_dir = _resolved(dest), _resolved(data_dir)
    if dest == data_dir:
        return "is"
    if data_dir in dest.parents:
        return "is inside"
    if dest in data_dir.parents:
        return "contains"
    return None


def _resolved(path: Path) -> Path:
    """``path`` with its symlinks resolved; a loop of links as the ``OSError`` it is."""
    try:
        return path.resolve()
    except RuntimeError:  # Python < 3.13 reports a loop so
        raise OSError(errno.ELOOP, "Too many levels of symbolic links", str(path)) from None


def make_dir(root: Path) -> None:
    """``root`` as a directory, made with its parents if missing; the ``OSError`` saying
    why not (``NotADirectoryError`` where a file is)."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(root)) from None


@contextmanager
def s3_failures(url: str) -> Iterator[None]:
    """An S3 client's error (no credentials, access denied, no such bucket, unreachable
    endpoint) as one ``StorageUnavailable`` line naming the target, not a traceback."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError, Boto3Error) as error:
        raise StorageUnavailable(f"backup target {url}: {error}") from error


@contextmanager
def dir_failures(url: str, *, field: str) -> Iterator[None]:
    """An OS error writing the directory ``url`` as one line naming the path and the
    reason: a place no backup can go (no such parent, a file in the way, no permission,
    read-only) as ``InvalidArgument`` naming ``field``; the disk or the system failing
    (full, I/O error, ...) as ``StorageUnavailable``."""
    try:
        yield
    except OSError as error:
        if error.errno is None:  # not from the OS: a check of ours, left as it is
            raise
        detail = _os_reason(error, url)
        if error.errno in _BAD_PLACE:
            raise InvalidArgument(f"{field}: cannot write a backup to {url}: {detail}", field=field) from error
        raise StorageUnavailable(f"backup target {url}: {detail}") from error


def _os_reason(error: OSError, url: str) -> str:
    """``error``'s reason, after the path it names when that is not ``url`` itself."""
    if error.strerror is None:
        return str(error)
    path = error.filename
    return error.strerror if path in (None, url) else f"{path}: {error.strerror}"


def _s3_client(endpoint: str, region: str) -> S3Client:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=_CONNECT_TIMEOUT_S,
        read_timeout=_READ_TIMEOUT_S,
        retries={"max_attempts": 2, "mode": "standard"},  # the shipper retries with its own backoff
    )
    return boto3.client("s3", endpoint_url=endpoint or None, region_name=region or None, config=config)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
