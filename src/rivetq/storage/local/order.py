"""The order keys: what a job's metadata record implies in LMDB's sorted key space, so
that the service order, the delays, the leases and the listings are range reads, not
Python objects. Every key here is derived from one ``m`` record (``order_keys``) and
changes with it; the values are empty (a key says everything).

- ``r`` queue NUL (9 - priority) eta seq id: a waiting job, in service order;
- ``d`` queue NUL eta seq id: a waiting job whose eta was after its creation (it was
  delayed once; counted by ``delayed_at`` until its eta passes);
- ``j`` queue NUL id: every job of the queue, for listings in id order;
- ``i`` / ``x`` queue NUL id: the inflight / dead jobs, for listings by state;
- ``l`` expiry id: a lease, soonest expiry first (all queues).

Times are stored offset by 2**63 so negative ones sort first. Queue names have no NUL.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import msgspec

from rivetq.models import StoredState
from rivetq.storage.local.codec import JobMeta

__all__ = [
    "COUNTS",
    "LEASES",
    "ORDER_TAGS",
    "Counts",
    "count_key",
    "dead_prefix",
    "delayed_prefix",
    "due_ms",
    "has_delayed_key",
    "inflight_prefix",
    "job_prefix",
    "lease_job_id",
    "order_keys",
    "ready_eta_ms",
    "ready_job_id",
    "ready_prefix",
    "time_bytes",
]

READY, DELAYED, JOBS, INFLIGHT, DEAD, LEASES = b"r", b"d", b"j", b"i", b"x", b"l"
COUNTS = b"c"
ORDER_TAGS = frozenset((READY, DELAYED, JOBS, INFLIGHT, DEAD, LEASES))
_OFFSET = 1 << 63
_TIME_BYTES = 8
_counts_decoder = msgspec.msgpack.Decoder(tuple[int, int, int, int])


def time_bytes(ms: int) -> bytes:
    return (ms + _OFFSET).to_bytes(_TIME_BYTES, "big")


def _time_at(key: bytes, at: int) -> int:
    return int.from_bytes(key[at : at + _TIME_BYTES], "big") - _OFFSET


@functools.lru_cache(maxsize=4096)
def _queue_part(tag: bytes, queue: str) -> bytes:
    """Cached: every change of a job builds a few of these for its queue."""
    return tag + queue.encode() + b"\x00"


@functools.lru_cache(maxsize=4096)
def ready_prefix(queue: str, priority: int) -> bytes:
    return _queue_part(READY, queue) + bytes((9 - priority,))


def delayed_prefix(queue: str) -> bytes:
    return _queue_part(DELAYED, queue)


def job_prefix(queue: str) -> bytes:
    return _queue_part(JOBS, queue)


def inflight_prefix(queue: str) -> bytes:
    return _queue_part(INFLIGHT, queue)


def dead_prefix(queue: str) -> bytes:
    return _queue_part(DEAD, queue)


def ready_eta_ms(key: bytes, prefix: bytes) -> int:
    """The eta of the job whose ready key under ``prefix`` is ``key``."""
    return _time_at(key, len(prefix))


def ready_job_id(key: bytes, prefix: bytes) -> str:
    return key[len(prefix) + 2 * _TIME_BYTES :].decode()


def due_ms(key: bytes, prefix: bytes) -> int:
    """The eta in a ``d`` key (under the queue's ``delayed_prefix``)."""
    return _time_at(key, len(prefix))


def lease_job_id(key: bytes) -> tuple[int, str]:
    """(expiry, job id) of an ``l`` key."""
    return _time_at(key, 1), key[1 + _TIME_BYTES :].decode()


def has_delayed_key(meta: JobMeta) -> bool:
    """Jobs due at their creation (most) never get a ``d`` key, so counting the delayed
    ones never walks past them."""
    return meta.state is StoredState.WAITING and meta.eta_ms > meta.created_at_ms


def order_keys(job_id: str, meta: JobMeta) -> tuple[bytes, ...]:
    """Every order key the record ``meta`` of ``job_id`` implies."""
    name, raw_id = meta.queue, job_id.encode()
    listed = job_prefix(name) + raw_id
    if meta.state is StoredState.WAITING:
        position = time_bytes(meta.eta_ms) + meta.seq.to_bytes(8, "big") + raw_id
        ready = ready_prefix(name, meta.priority) + position
        return (listed, ready, delayed_prefix(name) + position) if has_delayed_key(meta) else (listed, ready)
    if meta.state is StoredState.INFLIGHT:
        lease = LEASES + time_bytes(meta.lease_expires_at_ms or 0) + raw_id
        return listed, inflight_prefix(name) + raw_id, lease
    return listed, dead_prefix(name) + raw_id


def count_key(queue: str) -> bytes:
    return COUNTS + queue.encode()


@dataclass(slots=True)
class Counts:
    """A queue's jobs by stored state, and how many of its waiting jobs have a ``d`` key.
    Kept in memory, written as the queue's ``c`` record at each checkpoint."""

    waiting: int = 0
    inflight: int = 0
    dead: int = 0
    delayed_keys: int = 0

    def add(self, meta: JobMeta, sign: int) -> None:
        if meta.state is StoredState.WAITING:
            self.waiting += sign
            if has_delayed_key(meta):
                self.delayed_keys += sign
        elif meta.state is StoredState.INFLIGHT:
            self.inflight += sign
        else:
            self.dead += sign

    @property
    def empty(self) -> bool:
        return not (self.waiting or self.inflight or self.dead)

    def encode(self) -> bytes:
        return msgspec.msgpack.encode((self.waiting, self.inflight, self.dead, self.delayed_keys))

    @classmethod
    def decode(cls, raw: bytes) -> Counts:
        return cls(*_counts_decoder.decode(raw))
