"""Frames between a front and the owner: ``[body length u32][call id u32][tag u16][body]``.

A request's tag is the method's index in ``calls.CALLS`` and its body the arguments as
JSON (job payloads stay raw JSON); a reply's tag is ``OK``, ``ERROR`` or ``EVENT`` and its
body msgpack (job payloads as bytes). Call ids are per connection; events carry 0.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Final, cast

__all__ = ["ERROR", "EVENT", "HEADER", "OK", "FrameReader", "FramedProtocol", "frame"]

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


class FramedProtocol(asyncio.Protocol):
    """One end of a front-owner connection: frames in, and frames out batched so that
    whatever one event-loop pass sends goes out in one write."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._reader = FrameReader()
        self._out: list[bytes] = []
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass of it

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._reader.feed(data)
        except ValueError:
            assert self.transport is not None
            self.transport.abort()  # a peer that breaks the framing is not talked to further
            return
        for call_id, tag, body in frames:
            self.frame_received(call_id, tag, body)

    def frame_received(self, call_id: int, tag: int, body: bytes) -> None:
        raise NotImplementedError

    def send(self, data: bytes) -> None:
        if not self._out:
            self._loop.call_soon(self.flush)
        self._out.append(data)

    def flush(self) -> None:
        out, self._out = self._out, []
        if out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(out))
