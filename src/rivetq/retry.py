"""Backoff after a failed attempt (SPEC §1)."""

from __future__ import annotations

import random

from rivetq.models import RetryPolicy

__all__ = ["next_delay_ms"]


def next_delay_ms(tries: int, policy: RetryPolicy, rng: random.Random) -> int:
    """Delay before the next attempt, ``tries`` being the failed attempts so far (>= 1)."""
    exponent = max(tries - 1, 0)
    # Cap before exponentiating so a large ``tries`` cannot overflow a float.
    try:
        raw = policy.base_backoff_ms * policy.multiplier**exponent
    except OverflowError:
        raw = float(policy.max_backoff_ms)
    backoff = int(min(float(policy.max_backoff_ms), raw))
    if policy.jitter == "equal":
        return rng.randint(backoff // 2, backoff) if backoff > 0 else 0
    if policy.jitter == "full":
        return rng.randint(0, backoff) if backoff > 0 else 0
    return backoff
