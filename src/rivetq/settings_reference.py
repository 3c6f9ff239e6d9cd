"""The configuration reference (the docs site's table), made from ``rivetq.settings``:
keys, types, defaults and environment names come from the code, and every key must have
a description here, so the table cannot drift from what rivetqd accepts."""

from __future__ import annotations

import typing
from typing import Any

from rivetq.settings import describe_fields, env_name

__all__ = ["DESCRIPTIONS", "markdown_table"]

DESCRIPTIONS = {
    "server.http_addr": "REST API, `/metrics`, `/docs` and `/ui/` (`host:port`; `:8080` is every interface)",
    "server.grpc_addr": 'gRPC listen address; `""` disables gRPC',
    "server.tls_cert_file": "PEM certificate: with `server.tls_key_file`, HTTP and gRPC speak TLS",
    "server.tls_key_file": "PEM private key of `server.tls_cert_file`",
    "server.cors_allow_origins": "browser origins allowed by CORS (off when empty)",
    "server.debug_endpoints": "serve `/debug/stacks` and `/debug/tracemalloc` (behind the API's auth)",
    "server.read_header_timeout": "time a client has to send a request's headers (from its first byte, or from "
    "connecting); 408 after",
    "server.read_body_timeout": "then time to send the body; 408 after",
    "server.keep_alive_timeout": "an idle kept-alive connection is closed after this (whole seconds, rounded up)",
    "server.max_connections": "open HTTP connections; one more is answered 503 and closed. gRPC has its own cap of "
    "the same size. With several workers each front holds its share",
    "server.workers": "processes serving HTTP and gRPC: `0` one per core on 4 cores or more (else 1), `1` a "
    "single process; with more than one, a storage owner sits behind them (see Running in production)",
    "storage.backend": "`local` (embedded engine), `memory` (not durable), `postgres` (several nodes on one database)",
    "storage.data_dir": "the embedded engine's directory (one server per directory)",
    "storage.dsn": "PostgreSQL DSN or URL, required by `postgres` (never logged)",
    "storage.auto_migrate": "`postgres`: apply pending schema migrations at startup",
    "storage.order_window": "`local`: job order keys read ahead from disk per queue and priority (and for lease "
    "expiries); memory for the order is about this many keys times the queues, whatever the backlog",
    "wal.segment_size": "bytes per write-ahead log segment (preallocated)",
    "wal.fsync": "fdatasync before acknowledging a write: a 2xx means the write is on disk",
    "wal.space_reserve": "disk space kept free for draining (a `RESERVE` file of this size; `0`: two segments): "
    "below it enqueues get 503 while leases, acks, nacks and purges go on",
    "wal.accept_loss": "start from a log that misses segments, logging what was lost (`--accept-wal-loss`; "
    "once, after damage)",
    "backup.url": "ship the WAL continuously to this directory or `s3://bucket/prefix` (see Backup and restore); "
    "empty: no shipping",
    "backup.endpoint": "URL of an S3-compatible store (MinIO, Ceph, moto); empty: AWS. Credentials come from "
    "boto3's standard chain (`AWS_ACCESS_KEY_ID`..., shared files, instance roles)",
    "backup.region": "S3 region; empty: boto3's default (`AWS_DEFAULT_REGION`)",
    "backup.interval": "how often the durable WAL is shipped: the loss window to expect while the bucket is up",
    "backup.ship_bytes": "the durable WAL is also shipped as soon as this much is waiting, before the interval "
    "is up, so a burst of writes does not wait for it",
    "backup.snapshot_interval": "how often a fresh snapshot of the store is shipped (also at start)",
    "backup.retention": "snapshots older than this are deleted (the newest of them kept), with the WAL only "
    "they needed",
    "backup.max_unshipped": "WAL kept on disk for shipping at most; past it checkpoints delete unshipped "
    "segments and the shipper starts again from a fresh snapshot",
    "queue.shards": "accepted for compatibility with the original config (one storage owner serves all queues)",
    "queue.lease_check_interval": "how often expired leases are reclaimed",
    "queue.dedup_window": "how long an idempotency key makes a second enqueue a duplicate",
    "limits.max_payload_bytes": "larger job payloads get 413",
    "limits.max_request_bytes": "larger request bodies (e.g. a batch enqueue) get 413; never below "
    "`limits.max_payload_bytes` + 64 KiB",
    "auth.tokens": "bearer tokens; every `/v1/` call then needs one (several allow rotation)",
    "auth.protected_mode": "without tokens, answer only clients on this machine",
    "logging.level": "least important level logged",
    "logging.format": "`console` for people, `json` for machines (one object per line)",
    "logging.access_log": "one info line per HTTP request and gRPC call",
}

_MS_UNITS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000))
_BYTE_UNITS = ((" GiB", 1024**3), (" MiB", 1024**2), (" KiB", 1024))


def markdown_table() -> str:
    """One row per setting: key, environment variable, type, default, meaning."""
    rows = ["| key | environment | type | default | meaning |", "|---|---|---|---|---|"]
    fields = list(describe_fields())
    missing = sorted({key for key, *_ in fields} ^ DESCRIPTIONS.keys())
    if missing:
        raise ValueError(f"settings and DESCRIPTIONS disagree on: {', '.join(missing)}")
    for key, kind, default, unit in fields:
        rows.append(
            f"| `{key}` | `{env_name(key)}` | {_type_text(kind, unit)} | {_default_text(default, unit)} "
            f"| {DESCRIPTIONS[key]} |"
        )
    return "\n".join(rows) + "\n"


def _type_text(kind: Any, unit: str) -> str:
    if unit:
        return unit
    if typing.get_origin(kind) is typing.Literal:
        return " / ".join(f"`{choice}`" for choice in typing.get_args(kind))
    if typing.get_origin(kind) in (list, tuple):
        return "list"
    base = typing.get_args(kind)[0] if typing.get_origin(kind) is typing.Annotated else kind
    return {bool: "boolean", int: "integer", str: "string"}.get(base, str(base))


def _default_text(value: object, unit: str) -> str:
    if unit == "duration" and isinstance(value, int):
        return f"`{_largest_unit(value, _MS_UNITS, 'ms')}`"
    if unit == "size" and isinstance(value, int) and value:
        return f"`{value}` ({_largest_unit(value, _BYTE_UNITS, ' bytes')})"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value in ("", ()):
        return "empty"
    return f"`{value}`"


def _largest_unit(value: int, units: tuple[tuple[str, int], ...], smallest: str) -> str:
    for name, size in units:
        if value >= size and value % size == 0:
            return f"{value // size}{name}"
    return f"{value}{smallest}"
