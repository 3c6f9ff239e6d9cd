"""Failed attempts (nack, expired lease) and the lease reaper of the ``QueueManager``."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Callable

from rivetq.clock import Clock
from rivetq.errors import LeaseLost, StorageCorrupt, StorageUnavailable
from rivetq.manager_options import ManagerOptions, Observer
from rivetq.models import Job, StoredState
from rivetq.retry import next_delay_ms
from rivetq.storage.base import Storage

__all__ = ["LEASE_EXPIRED", "LeaseReaper", "fail_attempt"]

LEASE_EXPIRED = "lease expired"
logger = logging.getLogger("rivetq.manager")


async def fail_attempt(
    storage: Storage,
    rng: random.Random,
    job: Job,
    lease_id: str,
    *,
    error: str | None,
    now_ms: int,
    delay_ms: int | None = None,
    expired: bool = False,
) -> Job:
    """Count a failed attempt of ``job``: to the DLQ after its last try, else back to
    waiting after ``delay_ms`` or the queue's backoff."""
    tries = job.tries + 1
    if tries > job.max_retries:
        return await storage.bury(job.id, lease_id, error=error, now_ms=now_ms, expired=expired)
    if delay_ms is None:
        policy = (await storage.get_queue_config(job.queue)).retry_policy
        delay_ms = next_delay_ms(tries, policy, rng)
    return await storage.retry(job.id, lease_id, eta_ms=now_ms + delay_ms, error=error, now_ms=now_ms, expired=expired)


class LeaseReaper:
    """Every ``lease_check_interval_ms``, turns expired leases into failed attempts."""

    def __init__(
        self,
        storage: Storage,
        *,
        clock: Clock,
        options: ManagerOptions,
        observer: Observer,
        rng: random.Random,
        on_waiting: Callable[[Job, int], None],
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._options = options
        self._observer = observer
        self._rng = rng
        self._on_waiting = on_waiting

    async def run(self) -> None:
        """Reap forever; a storage outage is logged and retried at the next period, and so
        is damaged data (logged as an error: it needs an operator, not a server that stops)."""
        while True:
            try:
                while await self.reap() >= self._options.reaper_batch:
                    pass
            except StorageUnavailable as error:
                logger.warning("lease reaper: storage unavailable: %s", error)
            except StorageCorrupt as error:
                logger.error("lease reaper: storage_corrupt: %s", error)
            await asyncio.sleep(self._options.lease_check_interval_ms / 1000)

    async def reap(self) -> int:
        """Handle one batch of expired leases; returns how many it moved."""
        now_ms = self._clock.now_ms()
        expired = await self._storage.expired_leases(now_ms=now_ms, limit=self._options.reaper_batch)
        moved: Counter[str] = Counter()
        dead: Counter[str] = Counter()
        for job in expired:
            try:
                after = await fail_attempt(
                    self._storage, self._rng, job, job.lease_id or "", error=LEASE_EXPIRED, now_ms=now_ms, expired=True
                )
            except LeaseLost:
                continue  # acked, extended or reaped by someone else meanwhile
            moved[job.queue] += 1
            if after.state is StoredState.DEAD:
                dead[job.queue] += 1
            else:
                self._on_waiting(after, now_ms)
        for queue, count in moved.items():
            self._observer.leases_expired(queue, count)
        for queue, count in dead.items():
            self._observer.jobs_dead(queue, count)
        return sum(moved.values())
