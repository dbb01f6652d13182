"""Rate limiting per client: a token bucket charged per call and a cap on open streams.

Runs inside authentication, keyed by the caller's client id; calls without a principal (health,
reflection, AuthService) are not charged here. Over a limit the call fails RESOURCE_EXHAUSTED
with RetryInfo saying when to come back.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

import grpc.aio

from deepseek_server.context import current_principal
from deepseek_server.errors import QuotaViolation, ResourceExhausted
from deepseek_server.identity import RateLimiter, StreamLimiter
from deepseek_server.interceptors._around import AroundInterceptor

STREAM_RETRY_SECONDS = 1.0
"""What RetryInfo says when a client has too many streams open (no way to know better)."""


class RateLimitInterceptor(AroundInterceptor):
    """Charges each call's cost to its client's bucket; caps each client's open streams."""

    def __init__(
        self,
        limiter: RateLimiter,
        streams: StreamLimiter,
        streaming_methods: Collection[str],
        costs: Mapping[str, float],
    ) -> None:
        super().__init__()
        self._limiter = limiter
        self._streams = streams
        self._streaming = frozenset(streaming_methods)
        self._costs = dict(costs)

    def around(
        self, method: str, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AbstractAsyncContextManager[None]:
        principal = current_principal.get()
        if principal is None:
            return _UNCHARGED
        key = principal.client_id or principal.user_id
        cost = self._costs.get(method, 1.0)
        wait = self._limiter.take(key, cost, time.monotonic())
        if wait > 0:
            raise ResourceExhausted(
                f"rate limit exceeded for client {key}; retry in {wait:.3g} s",
                reason="RATE_LIMITED",
                violations=[
                    QuotaViolation(
                        f"client:{key}/requests",
                        f"at most {self._limiter.rate:g} requests per second, "
                        f"bursts of {self._limiter.burst:g}",
                    )
                ],
                retry_after_seconds=wait,
            )
        if method not in self._streaming:
            return _UNCHARGED
        return _StreamSlot(self._streams, key)


class _StreamSlot:
    """Holds one of the client's stream slots for the life of the call."""

    __slots__ = ("_key", "_streams")

    def __init__(self, streams: StreamLimiter, key: str) -> None:
        self._streams = streams
        self._key = key

    async def __aenter__(self) -> None:
        if not self._streams.acquire(self._key):
            raise ResourceExhausted(
                f"client {self._key} has {self._streams.limit} streams open, the most allowed",
                reason="TOO_MANY_STREAMS",
                violations=[
                    QuotaViolation(
                        f"client:{self._key}/streams",
                        f"at most {self._streams.limit} concurrent streams",
                    )
                ],
                retry_after_seconds=STREAM_RETRY_SECONDS,
            )

    async def __aexit__(self, *exc_info: object) -> None:
        self._streams.release(self._key)


# Plain objects rather than @asynccontextmanager: this runs on every call.
_UNCHARGED: AbstractAsyncContextManager[None] = nullcontext()
