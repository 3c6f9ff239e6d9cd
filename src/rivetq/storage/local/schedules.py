"""Schedules in the embedded engine: one ``s`` + name key each (msgpack), written through
the WAL like every other change, so they survive crashes and checkpoints."""

from __future__ import annotations

import msgspec

from rivetq.models import Schedule
from rivetq.storage.local.codec import SCHEDULE
from rivetq.storage.local.core import Core
from rivetq.storage.local.layers import Txn
from rivetq.storage.schedule_book import advanced

__all__ = ["Schedules"]

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Schedule)


def _key(name: str) -> bytes:
    return SCHEDULE + name.encode()


class Schedules:
    _core: Core

    def _schedule(self, name: str) -> Schedule | None:
        raw = self._core.layers.get(_key(name))
        return None if raw is None else _decoder.decode(raw)

    async def put_schedule(self, schedule: Schedule) -> None:
        def build(txn: Txn) -> None:
            txn.put(_key(schedule.name), _encoder.encode(schedule))

        await self._core.run(build)

    async def get_schedule(self, name: str) -> Schedule | None:
        return await self._core.read(lambda: self._schedule(name))

    async def list_schedules(self) -> list[Schedule]:
        def compute() -> list[Schedule]:
            found = [_decoder.decode(value) for _, value in self._core.layers.scan(SCHEDULE)]
            return sorted(found, key=lambda schedule: schedule.name)

        return await self._core.read(compute)

    async def delete_schedule(self, name: str) -> bool:
        def build(txn: Txn) -> bool:
            if txn.get(_key(name)) is None:
                return False
            txn.put(_key(name), None)
            return True

        return await self._core.run(build)

    async def advance_schedule(
        self, name: str, *, due_ms: int, next_run_at_ms: int, last_run_at_ms: int, fired: int
    ) -> bool:
        def build(txn: Txn) -> bool:
            moved = advanced(
                self._schedule(name),
                due_ms=due_ms,
                next_run_at_ms=next_run_at_ms,
                last_run_at_ms=last_run_at_ms,
                fired=fired,
            )
            if moved is not None:
                txn.put(_key(name), _encoder.encode(moved))
            return moved is not None

        return await self._core.run(build)
