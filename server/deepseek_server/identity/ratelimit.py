"""Token buckets per key, and a cap on concurrent streams per key.

Time is passed in (a monotonic clock in seconds), so the arithmetic is tested without waiting.
Everything here runs on the event loop thread and never awaits, so no lock is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

_MAX_TRACKED_KEYS = 10_000


@dataclass(slots=True)
class TokenBucket:
    """``burst`` tokens at most, refilled at ``rate`` tokens per second."""

    rate: float
    burst: float
    tokens: float
    updated: float

    def take(self, cost: float, now: float) -> float:
        """Take ``cost`` tokens if there are enough and return 0; else take none and return
        the seconds until there will be enough."""
        self.refill(now)
        if self.tokens >= cost:
            self.tokens -= cost
            return 0.0
        if cost > self.burst:
            # Could never be paid: report the wait for a full bucket, the most there can be.
            return (self.burst - self.tokens) / self.rate
        return (cost - self.tokens) / self.rate

    def refill(self, now: float) -> None:
        """Add the tokens earned since the last update."""
        if now > self.updated:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def full(self, now: float) -> bool:
        """Whether the bucket has refilled completely (and so can be forgotten)."""
        self.refill(now)
        return self.tokens >= self.burst


class RateLimiter:
    """A token bucket per key (a client id), made full on the key's first call."""

    def __init__(self, rate: float, burst: float) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError("rate and burst must be positive")
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, key: str, cost: float, now: float) -> float:
        """Charge ``cost`` to ``key``: 0 when allowed, else seconds until it would be."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= _MAX_TRACKED_KEYS:
                self._forget_full(now)
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, self.burst, now)
        return bucket.take(cost, now)

    def wait_time(self, key: str, cost: float, now: float) -> float:
        """Seconds until ``key`` could pay ``cost`` (0 if it can now), without charging it."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        bucket.refill(now)
        return 0.0 if bucket.tokens >= cost else (cost - bucket.tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        # A full bucket behaves exactly like a new one, so dropping it changes nothing.
        for key in [k for k, b in self._buckets.items() if b.full(now)]:
            del self._buckets[key]


class StreamLimiter:
    """Counts open streams per key and refuses more than ``limit`` at once."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the stream limit must be at least 1")
        self.limit = limit
        self._open: dict[str, int] = {}

    def acquire(self, key: str) -> bool:
        """Open a stream for ``key`` if it has fewer than ``limit``; whether it did."""
        count = self._open.get(key, 0)
        if count >= self.limit:
            return False
        self._open[key] = count + 1
        return True

    def release(self, key: str) -> None:
        """Close a stream that :meth:`acquire` opened."""
        count = self._open.get(key, 0) - 1
        if count > 0:
            self._open[key] = count
        else:
            self._open.pop(key, None)

    def open_streams(self, key: str) -> int:
        """How many streams ``key`` has open."""
        return self._open.get(key, 0)


METHOD_COSTS: dict[str, float] = {
    # A batch creates up to 1,000 jobs in one call: it costs more than a single create.
    "/deepseek.hpc.v1.JobService/BatchCreateJobs": 10.0,
}
"""Tokens a call of each method takes from its client's bucket; 1 for methods not listed."""
