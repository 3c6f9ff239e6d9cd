"""Time: the server's clock and the rate-limit bucket when the wall clock is stepped."""

from __future__ import annotations

import time

import pytest

from rivetq.clock import SystemClock
from rivetq.models import RateLimit
from rivetq.ratelimit import TokenBucket

HOUR_MS = 3_600_000
T = 1_700_000_000_000
TEN_PER_S = RateLimit(capacity=5, refill_rate=10)


@pytest.mark.parametrize("step_ms", [HOUR_MS, -HOUR_MS], ids=["forward", "back"])
def test_the_server_clock_ignores_a_step_of_the_wall_clock_until_restart(
    monkeypatch: pytest.MonkeyPatch, step_ms: int
) -> None:
    """A lease or delay measured across a step would otherwise end an hour early or late."""
    clock = SystemClock()
    before = clock.now_ms()
    real_time_ns = time.time_ns
    monkeypatch.setattr(time, "time_ns", lambda: real_time_ns() + step_ms * 1_000_000)
    assert 0 <= clock.now_ms() - before < 60_000
    assert abs(SystemClock().now_ms() - before - step_ms) < 60_000  # a restart reads the wall clock again


def test_a_bucket_counts_on_after_the_clock_was_stepped_back() -> None:
    bucket = TokenBucket(tokens=0.0, updated_at_ms=T)
    stepped_back = T - HOUR_MS
    granted, bucket = bucket.take(TEN_PER_S, 1, stepped_back)
    assert granted == 0
    granted, _ = bucket.take(TEN_PER_S, 1, stepped_back + 200)  # two tokens' worth later
    assert granted == 1


def test_a_clock_slightly_behind_refills_nothing_twice() -> None:
    """Another node's clock a few ms behind: its take must not make the bucket count that
    stretch again once its clock has passed the last update."""
    bucket = TokenBucket(tokens=0.0, updated_at_ms=T)
    _, bucket = bucket.take(TEN_PER_S, 0, T - 10)
    assert bucket.refilled(TEN_PER_S, T + 100).tokens == pytest.approx(1.0)
