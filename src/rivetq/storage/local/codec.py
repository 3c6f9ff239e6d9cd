"""How engine state is laid out in the flat key space and encoded (msgpack).

A job is two keys: its small metadata (everything an index needs) and its payload, so
a lease or nack rewrites ~100 bytes, never the payload, and recovery scans only the
metadata."""

from __future__ import annotations

import msgspec

from rivetq.models import Job, QueueConfig, QueueCounters, StoredState
from rivetq.ratelimit import TokenBucket

__all__ = [
    "META",
    "PAYLOAD",
    "QUEUE",
    "SCHEDULE",
    "SEQ_KEY",
    "IdempotencyRecord",
    "JobMeta",
    "QueueRecord",
    "decode_changes",
    "encode_changes",
    "idempotency_key",
    "idempotency_prefix",
    "job_of",
    "meta_key",
    "meta_of",
    "payload_key",
    "queue_key",
]

META = b"m"
PAYLOAD = b"p"
QUEUE = b"q"
SCHEDULE = b"s"
_IDEMPOTENCY = b"k"
SEQ_KEY = b"\x00seq"


class JobMeta(msgspec.Struct, array_like=True, frozen=True, gc=False):
    queue: str
    priority: int
    eta_ms: int
    max_retries: int
    tries: int
    created_at_ms: int
    seq: int
    state: StoredState
    idempotency_key: str | None = None
    last_error: str | None = None
    lease_id: str | None = None
    lease_expires_at_ms: int | None = None
    headers: dict[str, str] | None = None  # last, so records written before it decode


class QueueRecord(msgspec.Struct, array_like=True, frozen=True):
    """Everything per queue but its jobs: config, counters, token bucket. Its presence
    means the queue exists."""

    config: QueueConfig = QueueConfig()
    counters: QueueCounters = QueueCounters()
    bucket: TokenBucket | None = None


class IdempotencyRecord(msgspec.Struct, array_like=True, frozen=True):
    job_id: str
    recorded_at_ms: int


Change = tuple[bytes, bytes | None]
_changes_decoder = msgspec.msgpack.Decoder(list[tuple[bytes, bytes | None]])
_encoder = msgspec.msgpack.Encoder()
encode = _encoder.encode
meta_decoder = msgspec.msgpack.Decoder(JobMeta)
queue_decoder = msgspec.msgpack.Decoder(QueueRecord)
idempotency_decoder = msgspec.msgpack.Decoder(IdempotencyRecord)
seq_decoder = msgspec.msgpack.Decoder(int)


def encode_changes(changes: list[Change]) -> bytes:
    return _encoder.encode(changes)


def decode_changes(body: bytes) -> list[Change]:
    return _changes_decoder.decode(body)


def meta_key(job_id: str) -> bytes:
    return META + job_id.encode()


def payload_key(job_id: str) -> bytes:
    return PAYLOAD + job_id.encode()


def queue_key(queue: str) -> bytes:
    return QUEUE + queue.encode()


def idempotency_prefix(queue: str) -> bytes:
    """The prefix of every idempotency record of ``queue`` (names have no NUL)."""
    return _IDEMPOTENCY + queue.encode() + b"\x00"


def idempotency_key(queue: str, key: str) -> bytes:
    return idempotency_prefix(queue) + key.encode()


def meta_of(job: Job) -> JobMeta:
    return JobMeta(
        queue=job.queue,
        priority=job.priority,
        eta_ms=job.eta_ms,
        max_retries=job.max_retries,
        tries=job.tries,
        created_at_ms=job.created_at_ms,
        seq=job.seq,
        state=job.state,
        idempotency_key=job.idempotency_key,
        last_error=job.last_error,
        lease_id=job.lease_id,
        lease_expires_at_ms=job.lease_expires_at_ms,
        headers=job.headers,
    )


def job_of(job_id: str, meta: JobMeta, payload: bytes) -> Job:
    return Job(
        id=job_id,
        queue=meta.queue,
        payload=payload,
        priority=meta.priority,
        eta_ms=meta.eta_ms,
        max_retries=meta.max_retries,
        tries=meta.tries,
        created_at_ms=meta.created_at_ms,
        seq=meta.seq,
        state=meta.state,
        idempotency_key=meta.idempotency_key,
        last_error=meta.last_error,
        lease_id=meta.lease_id,
        lease_expires_at_ms=meta.lease_expires_at_ms,
        headers=meta.headers,
    )
