"""Token bucket and stream cap arithmetic, with time passed in."""

from __future__ import annotations

import pytest

from deepseek_server.identity import RateLimiter, StreamLimiter, TokenBucket


def test_a_new_key_gets_a_full_bucket_then_waits_for_refill() -> None:
    limiter = RateLimiter(rate=2.0, burst=3)

    assert [limiter.take("a", 1, 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a", 1, 100.0) == pytest.approx(0.5)
    assert limiter.take("a", 1, 100.25) == pytest.approx(0.25)
    assert limiter.take("a", 1, 100.5) == 0.0


def test_keys_have_separate_buckets() -> None:
    limiter = RateLimiter(rate=1.0, burst=1)

    assert limiter.take("a", 1, 0.0) == 0.0
    assert limiter.take("b", 1, 0.0) == 0.0
    assert limiter.take("a", 1, 0.0) == pytest.approx(1.0)


def test_a_refused_call_takes_nothing_and_costs_add_up() -> None:
    limiter = RateLimiter(rate=10.0, burst=10)

    assert limiter.take("a", 8, 0.0) == 0.0
    assert limiter.take("a", 5, 0.0) == pytest.approx(0.3)
    assert limiter.take("a", 2, 0.0) == 0.0
    assert limiter.take("a", 1, 0.0) == pytest.approx(0.1)


def test_refill_never_exceeds_the_burst() -> None:
    bucket = TokenBucket(rate=5.0, burst=4, tokens=0.0, updated=0.0)

    bucket.refill(1000.0)

    assert bucket.tokens == 4
    assert bucket.full(1000.0)


def test_a_cost_above_the_burst_waits_for_a_full_bucket_at_most() -> None:
    bucket = TokenBucket(rate=2.0, burst=4, tokens=1.0, updated=0.0)

    assert bucket.take(10, 0.0) == pytest.approx(1.5)
    assert bucket.tokens == 1.0


def test_wait_time_reports_without_charging() -> None:
    limiter = RateLimiter(rate=1.0, burst=2)

    assert limiter.wait_time("a", 1, 0.0) == 0.0
    limiter.take("a", 2, 0.0)
    assert limiter.wait_time("a", 1, 0.0) == pytest.approx(1.0)
    assert limiter.wait_time("a", 1, 0.5) == pytest.approx(0.5)
    assert limiter.take("a", 1, 1.0) == 0.0


def test_stream_limiter_caps_open_streams_per_key() -> None:
    streams = StreamLimiter(limit=2)

    assert streams.acquire("a")
    assert streams.acquire("a")
    assert not streams.acquire("a")
    assert streams.acquire("b")
    streams.release("a")
    assert streams.open_streams("a") == 1
    assert streams.acquire("a")


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(rate=0, burst=1)
    with pytest.raises(ValueError, match="at least 1"):
        StreamLimiter(limit=0)
