"""The per-queue settings of ``QueueManager`` (rate limit, concurrency limit, retry policy,
pause): a base class, so that the manager's module stays about its job flow."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from rivetq import wire
from rivetq.clock import Clock
from rivetq.manager_validation import check_int, check_queue, check_rate_limit, check_retry_policy
from rivetq.models import QueueConfig, RateLimit, RetryPolicy
from rivetq.storage.base import Storage
from rivetq.waiters import Waiters

__all__ = ["MAX_INFLIGHT", "QueueSettings"]

MAX_INFLIGHT = wire.MAX_INFLIGHT
_replace = msgspec.structs.replace


class QueueSettings:
    """Each change is atomic in the storage and wakes the queue's long-polls (a resume, a
    raised limit or a lifted one may let them lease)."""

    _storage: Storage
    _clock: Clock
    _waiters: Waiters

    def now_ms(self) -> int:
        return self._clock.now_ms()

    async def set_rate_limit(self, queue: str, limit: RateLimit) -> None:
        check_rate_limit(limit)
        await self._update_config(queue, lambda config: _replace(config, rate_limit=limit))

    async def get_rate_limit(self, queue: str) -> RateLimit | None:
        return (await self._storage.get_queue_config(check_queue(queue))).rate_limit

    async def delete_rate_limit(self, queue: str) -> None:
        await self._update_config(queue, lambda config: _replace(config, rate_limit=None))

    async def set_concurrency_limit(self, queue: str, max_inflight: int) -> None:
        """At most ``max_inflight`` jobs of the queue leased at once, across workers and nodes."""
        check_int(max_inflight, "max_inflight", 1, MAX_INFLIGHT)
        await self._update_config(queue, lambda config: _replace(config, max_inflight=max_inflight))

    async def get_concurrency_limit(self, queue: str) -> int | None:
        return (await self._storage.get_queue_config(check_queue(queue))).max_inflight

    async def delete_concurrency_limit(self, queue: str) -> None:
        await self._update_config(queue, lambda config: _replace(config, max_inflight=None))

    async def set_retry_policy(self, queue: str, policy: RetryPolicy) -> None:
        check_retry_policy(policy)
        await self._update_config(queue, lambda config: _replace(config, retry_policy=policy))

    async def get_retry_policy(self, queue: str) -> RetryPolicy:
        """The queue's policy; the defaults until one is set."""
        return (await self._storage.get_queue_config(check_queue(queue))).retry_policy

    async def pause(self, queue: str) -> None:
        await self._update_config(queue, lambda config: _replace(config, paused=True))

    async def resume(self, queue: str) -> None:
        await self._update_config(queue, lambda config: _replace(config, paused=False))

    async def _update_config(self, queue: str, change: Callable[[QueueConfig], QueueConfig]) -> None:
        check_queue(queue)
        await self._storage.update_queue_config(queue, change, now_ms=self.now_ms())
        self._waiters.notify(queue)
