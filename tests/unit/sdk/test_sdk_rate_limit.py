"""The client-side token bucket, on an injected clock."""

from __future__ import annotations

import time

import pytest

import deepseek_api as ds
from deepseek_api._call_details import Deadline
from deepseek_api._ratelimit import TokenBucket, rate_limit_wait


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_lets_capacity_calls_through_then_spaces_them_by_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(ds.RateLimitConfig(capacity=3, refill_per_second=4.0), clock)

    waits = [bucket.reserve() for _ in range(6)]

    assert waits == [0.0, 0.0, 0.0, 0.25, 0.5, 0.75]


def test_refilling_is_continuous_and_capped_at_capacity() -> None:
    clock = FakeClock()
    bucket = TokenBucket(ds.RateLimitConfig(capacity=2, refill_per_second=4.0), clock)
    bucket.reserve()
    bucket.reserve()

    clock.now += 0.125
    assert bucket.available() == 0.5
    clock.now += 0.125
    assert bucket.reserve() == 0.0
    clock.now += 60
    assert bucket.available() == 2.0


def test_waiters_are_served_in_order_as_tokens_refill() -> None:
    clock = FakeClock()
    bucket = TokenBucket(ds.RateLimitConfig(capacity=1, refill_per_second=2.0), clock)
    assert bucket.reserve() == 0.0
    first, second = bucket.reserve(), bucket.reserve()

    clock.now += first
    third = bucket.reserve()

    assert (first, second, third) == (0.5, 1.0, 1.0)


def test_a_refund_gives_the_token_back() -> None:
    clock = FakeClock()
    bucket = TokenBucket(ds.RateLimitConfig(capacity=1, refill_per_second=1.0), clock)
    bucket.reserve()
    assert bucket.reserve() == 1.0

    bucket.refund()

    assert bucket.reserve() == 1.0


def test_an_attempt_waits_no_longer_than_its_deadline_and_returns_its_token() -> None:
    clock = FakeClock()
    bucket = TokenBucket(ds.RateLimitConfig(capacity=1, refill_per_second=0.1), clock)
    bucket.reserve()

    wait = rate_limit_wait(bucket, Deadline(time.monotonic() + 2.0))

    assert wait.gives_up
    assert 0 < wait.delay <= 2.0
    unbounded = rate_limit_wait(bucket, Deadline(None))
    assert unbounded.delay == pytest.approx(20.0)
    assert not unbounded.gives_up


@pytest.mark.parametrize(
    ("capacity", "rate", "error"),
    [
        (0, 1.0, ValueError),
        (1, 0.0, ValueError),
        (1, float("nan"), ValueError),
        (1.5, 1, TypeError),
    ],
)
def test_rate_limit_config_refuses_nonsense(
    capacity: int, rate: float, error: type[Exception]
) -> None:
    with pytest.raises(error):
        ds.RateLimitConfig(capacity=capacity, refill_per_second=rate)
