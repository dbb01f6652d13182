"""The platform guide's token bucket (3.1.1), as reservations rather than refusals.

The guide's ``tryAcquire`` refuses a call when the bucket is empty. Here a caller
*reserves* a token: the bucket may go into debt, and the reservation says how long the
caller must wait until its token will have been refilled. Callers are thus served in
the order they asked, without polling, and the waiting itself happens outside the
bucket (``time.sleep`` in the sync client, ``asyncio.sleep`` in the async one).

Refilling is continuous: the guide's integer arithmetic drops the fraction of a token
accrued since the last refill each time, which runs the bucket slower than its rate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from deepseek_api._call_details import Deadline
from deepseek_api._config import RateLimitConfig


class TokenBucket:
    """A token bucket shared by every call of one client (and every thread using it)."""

    def __init__(
        self, config: RateLimitConfig, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._capacity = float(config.capacity)
        self._rate = config.refill_per_second
        self._clock = clock
        self._tokens = self._capacity
        self._updated = clock()
        # Held only for a few arithmetic steps, never while waiting, so an event loop
        # taking it cannot stall on it.
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take one token; return the seconds to wait before using it (0 if available)."""
        with self._lock:
            self._refill()
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self._rate

    def refund(self) -> None:
        """Give back a token reserved by a caller that gave up waiting for it."""
        with self._lock:
            self._refill()
            self._tokens = min(self._capacity, self._tokens + 1.0)

    def available(self) -> float:
        """Tokens in the bucket now (negative while callers wait for refills)."""
        with self._lock:
            self._refill()
            return self._tokens

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._updated = now
        self._tokens = min(self._capacity, self._tokens + elapsed * self._rate)


@dataclass(frozen=True, slots=True)
class RateLimitWait:
    """How long an attempt waits for its token, and whether it gives up at the end.

    An attempt whose token would come after its deadline waits until the deadline and
    then goes ahead with no time left, so that gRPC fails it with DEADLINE_EXCEEDED as
    it would any call out of time; its token goes back to the bucket.
    """

    delay: float
    gives_up: bool


def rate_limit_wait(bucket: TokenBucket, deadline: Deadline) -> RateLimitWait:
    """Reserve a token of ``bucket`` for an attempt that must start by ``deadline``."""
    delay = bucket.reserve()
    time_left = deadline.time_left()
    if time_left is not None and delay > time_left:
        return RateLimitWait(time_left, gives_up=True)
    return RateLimitWait(delay, gives_up=False)
