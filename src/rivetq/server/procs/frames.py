"""Frames between a front and the owner: ``[body length u32][call id u32][tag u16][body]``.

A request's tag is the method's index in ``calls.CALLS`` and its body the arguments as
JSON (job payloads stay raw JSON); a reply's tag is ``OK``, ``ERROR`` or ``EVENT`` and its
body msgpack (job payloads as bytes). Call ids are per connection; events carry 0.
"""

from __future__ import annotations

import struct
from typing import Final

__all__ = ["ERROR", "EVENT", "HEADER", "OK", "FrameReader", "frame"]

HEADER: Final = struct.Struct("<IIH")
OK: Final = 0
ERROR: Final = 1
EVENT: Final = 2
_MAX_BODY: Final = 1 << 31


def frame(call_id: int, tag: int, body: bytes) -> bytes:
    return HEADER.pack(len(body), call_id, tag) + body


class FrameReader:
    """Splits a byte stream into frames; keeps an unfinished frame for the next read."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, int, bytes]]:
        if self._pending:
            self._pending += data
            buffer: bytes | bytearray = self._pending
        else:
            buffer = data
        frames = []
        position, end = 0, len(buffer)
        size = HEADER.size
        while end - position >= size:
            length, call_id, tag = HEADER.unpack_from(buffer, position)
            if length >= _MAX_BODY:
                raise ValueError(f"frame of {length} bytes")
            stop = position + size + length
            if stop > end:
                break
            frames.append((call_id, tag, bytes(buffer[position + size : stop])))
            position = stop
        self._pending = bytearray(buffer[position:]) if position < end else bytearray()
        return frames
