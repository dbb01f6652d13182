"""The retry policy, without I/O: whether a failed attempt is retried, and after how long.

The sync and async retry interceptors both ask :meth:`RetryPolicy.delay`; they differ only
in how they wait.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc
from google.rpc import error_details_pb2

from deepseek_api._config import RetryConfig
from deepseek_api._status import Trailers, rich_status

# DEADLINE_EXCEEDED is retryable only while the caller's deadline has time left: the
# server (or a proxy) gave up on an inner deadline of its own.
_RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    }
)


def server_retry_delay(trailers: Trailers) -> float | None:
    """Seconds the server's ``RetryInfo`` asks the client to wait, if it sent one."""
    status = rich_status(trailers)
    if status is None:
        return None
    for detail in status.details:
        info = error_details_pb2.RetryInfo()
        if detail.Unpack(info) and info.HasField("retry_delay"):
            return max(0.0, info.retry_delay.seconds + info.retry_delay.nanos / 1e9)
    return None


def backoff(config: RetryConfig, retry_number: int, random_fraction: float) -> float:
    """The computed delay before retry ``retry_number`` (1 for the first retry).

    ``random_fraction`` in [0, 1) picks the jitter: 0 gives the nominal delay, values near
    1 shorten it by almost ``config.jitter`` of itself.
    """
    nominal = min(
        config.max_backoff, config.initial_backoff * config.multiplier ** (retry_number - 1)
    )
    return nominal * (1.0 - config.jitter * random_fraction)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """:class:`RetryConfig` applied to one failed attempt at a time."""

    config: RetryConfig
    random_fraction: Callable[[], float] = field(default=random.random, compare=False)

    def delay(
        self,
        *,
        retry_number: int,
        code: grpc.StatusCode | None,
        trailers: Trailers,
        safe: bool,
        time_left: float | None,
    ) -> float | None:
        """Seconds to wait before retry ``retry_number``, or None not to retry.

        Args:
            retry_number: 1 for the first retry, 2 for the second, ...
            code: The failed attempt's status code.
            trailers: Its trailing metadata (where ``RetryInfo`` travels).
            safe: Whether the call may be repeated (see :mod:`deepseek_api._methods`).
            time_left: Seconds until the call's deadline, None without one.
        """
        if retry_number > self.config.max_retries or not safe or code not in _RETRYABLE:
            return None
        server_delay = server_retry_delay(trailers)
        # A quota (QuotaFailure, no RetryInfo) does not lift within a retry's backoff.
        if code is grpc.StatusCode.RESOURCE_EXHAUSTED and server_delay is None:
            return None
        if server_delay is not None:
            delay = server_delay
        else:
            delay = backoff(self.config, retry_number, self.random_fraction())
        if time_left is not None and delay >= time_left:
            return None
        return delay
