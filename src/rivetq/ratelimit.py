"""Token bucket for dispatch rate limits (pure: the backend stores its state)."""

from __future__ import annotations

import math

import msgspec

from rivetq.models import RateLimit
from rivetq.wire import MAX_DELAY_MS

__all__ = ["TokenBucket", "ms_per_token"]

_CLOCK_STEP_MS = 1_000  # further behind than nodes' clocks drift apart


class TokenBucket(msgspec.Struct, frozen=True):
    """Bucket level ``tokens`` as of ``updated_at_ms``."""

    tokens: float
    updated_at_ms: int

    @classmethod
    def full(cls, limit: RateLimit, now_ms: int) -> TokenBucket:
        """A bucket starts full when the limit is set."""
        return cls(tokens=float(limit.capacity), updated_at_ms=now_ms)

    def refilled(self, limit: RateLimit, now_ms: int) -> TokenBucket:
        """The level at ``now_ms``. A clock slightly behind the last update (another
        node's) refills nothing; one far behind was stepped back (between restarts): the
        bucket counts on from ``now_ms`` instead of waiting for the clock to catch up."""
        if now_ms < self.updated_at_ms - _CLOCK_STEP_MS:
            return TokenBucket(tokens=self.tokens, updated_at_ms=now_ms)
        elapsed_s = max(now_ms - self.updated_at_ms, 0) / 1000.0
        tokens = min(float(limit.capacity), self.tokens + elapsed_s * limit.refill_rate)
        return TokenBucket(tokens=tokens, updated_at_ms=max(now_ms, self.updated_at_ms))

    def take(self, limit: RateLimit, want: int, now_ms: int) -> tuple[int, TokenBucket]:
        """Grant up to ``want`` whole tokens; returns (granted, new bucket)."""
        current = self.refilled(limit, now_ms)
        granted = min(want, int(current.tokens + 1e-9))
        return granted, TokenBucket(tokens=current.tokens - granted, updated_at_ms=current.updated_at_ms)

    def give_back(self, limit: RateLimit, count: int) -> TokenBucket:
        """Return tokens taken for jobs that were not there to lease."""
        tokens = min(float(limit.capacity), self.tokens + count)
        return TokenBucket(tokens=tokens, updated_at_ms=self.updated_at_ms)


def ms_per_token(limit: RateLimit) -> int:
    """How long one token takes to refill, at most ``MAX_DELAY_MS``: a rate stored before
    ``refill_rate`` had a lower bound (1e-306 makes this infinite) must not overflow."""
    return math.ceil(min(1000 / limit.refill_rate, MAX_DELAY_MS))
