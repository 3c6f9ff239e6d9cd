"""WAL record framing: ``[len u32][crc32c u32][type u8][body]``, little-endian.

``len`` counts the type byte and the body; the CRC covers the length field, the type
and the body, so a damaged length is caught too. A write group starts with a BATCH
record (a magic constant, the record count and byte size of the group), which lets
recovery tell a torn last write from damage in the middle of the log.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

import google_crc32c

from rivetq.errors import StorageCorrupt

__all__ = [
    "BATCH_MAGIC",
    "FRAME_HEADER",
    "MAX_RECORD_BYTES",
    "TYPE_BATCH",
    "TYPE_CHANGES",
    "TYPE_SEAL",
    "CorruptWAL",
    "LostWAL",
    "Frame",
    "batch_frame",
    "encode_frame",
    "parse_batch",
    "parse_seal",
    "read_frame",
    "seal_frame",
]

if google_crc32c.implementation != "c":  # pragma: no cover - depends on the installed wheel
    raise ImportError("google-crc32c runs without its C extension; the WAL needs the hardware CRC32C")

TYPE_BATCH = 0
TYPE_CHANGES = 1
TYPE_SEAL = 2  # the last record of a segment closed by rotation: names the next segment
FRAME_HEADER = 8  # len + crc
MAX_RECORD_BYTES = 1 << 30
BATCH_MAGIC = b"\xa7RVQBAT\x01"
_U32 = struct.Struct("<I")
_HEAD = struct.Struct("<II")
_BATCH = struct.Struct("<8sII")  # magic, record count, bytes of the records that follow
_SEAL = struct.Struct("<QQ")  # first LSN and preallocated size of the next segment


class CorruptWAL(StorageCorrupt):
    """A WAL segment is damaged somewhere other than its torn tail."""

    def __init__(self, path: str, offset: int, reason: str) -> None:
        super().__init__(f"WAL corrupt in {path} at offset {offset}: {reason}")
        self.path = path
        self.offset = offset
        self.reason = reason


class LostWAL(CorruptWAL):
    """Part of the log is missing (a deleted or cut segment): records that were
    acknowledged are gone. Startup stops unless the operator accepts the loss."""


class Frame(NamedTuple):
    rtype: int
    body: bytes
    end: int  # offset just after the frame


def _crc(length_field: bytes, payload: bytes) -> int:
    return int(google_crc32c.extend(google_crc32c.value(length_field), payload))


def encode_frame(rtype: int, body: bytes) -> bytes:
    payload = bytes((rtype,)) + body
    if len(payload) > MAX_RECORD_BYTES:
        raise ValueError(f"WAL record of {len(payload)} bytes exceeds {MAX_RECORD_BYTES}")
    length_field = _U32.pack(len(payload))
    return length_field + _U32.pack(_crc(length_field, payload)) + payload


def batch_frame(count: int, nbytes: int) -> bytes:
    return encode_frame(TYPE_BATCH, _BATCH.pack(BATCH_MAGIC, count, nbytes))


def parse_batch(body: bytes) -> tuple[int, int] | None:
    """(record count, bytes) of a BATCH body, or None if it is not one."""
    if len(body) != _BATCH.size:
        return None
    magic, count, nbytes = _BATCH.unpack(body)
    return (count, nbytes) if magic == BATCH_MAGIC else None


def seal_frame(next_first_lsn: int, next_size: int) -> bytes:
    return encode_frame(TYPE_SEAL, _SEAL.pack(next_first_lsn, next_size))


def parse_seal(body: bytes) -> tuple[int, int] | None:
    """(first LSN, size) of the segment a SEAL names, or None if the body is not one."""
    if len(body) != _SEAL.size:
        return None
    first, size = _SEAL.unpack(body)
    return int(first), int(size)


def read_frame(buf: bytes, offset: int) -> Frame | str | None:
    """The frame at ``offset``; None at the zeroed end of the log; else why it is bad."""
    if offset + FRAME_HEADER > len(buf):
        return None if not any(buf[offset:]) else "truncated frame header"
    length, crc = _HEAD.unpack_from(buf, offset)
    if length == 0:
        return None if crc == 0 else "zero length with a checksum"
    if length > MAX_RECORD_BYTES:
        return f"impossible length {length}"
    end = offset + FRAME_HEADER + length
    if end > len(buf):
        return "frame runs past the end of the file"
    payload = buf[offset + FRAME_HEADER : end]
    if _crc(buf[offset : offset + 4], payload) != crc:
        return "checksum mismatch"
    return Frame(payload[0], payload[1:], end)
