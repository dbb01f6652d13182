"""Client configuration: immutable values with documented defaults."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from deepseek_api._version import __version__

_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """TLS settings for a client.

    Giving a ``TlsConfig`` turns on TLS for a bare ``host:port`` endpoint; ``https://``
    endpoints use TLS with the defaults below even without one.

    Attributes:
        root_certificates: PEM roots to verify the server with. Default: gRPC's default
            roots (the Mozilla bundle shipped with grpcio, unless the environment variable
            ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH`` names another file).
        client_certificate_chain: PEM certificate chain presented to the server for mutual
            TLS. Must be given together with ``client_private_key``.
        client_private_key: PEM private key matching ``client_certificate_chain``.
        server_name_override: Host name to verify the server certificate against, instead
            of the endpoint's host (for testing, or addressing a server by IP). Default: None.
    """

    root_certificates: bytes | None = None
    client_certificate_chain: bytes | None = None
    client_private_key: bytes | None = field(default=None, repr=False)
    server_name_override: str | None = None

    def __post_init__(self) -> None:
        if (self.client_certificate_chain is None) != (self.client_private_key is None):
            raise ValueError(
                "TlsConfig: client_certificate_chain and client_private_key go together"
            )


@dataclass(frozen=True, slots=True)
class ChannelOptions:
    """Transport settings of the client's gRPC channel.

    Attributes:
        keepalive_time: Seconds between HTTP/2 keepalive pings while calls are active, or
            None to send none. Default: 300, the least interval a gRPC server accepts by
            default (shorter ones get the connection closed with ``too_many_pings``).
        keepalive_timeout: Seconds to wait for a ping's acknowledgement before the
            connection is considered dead. Default: 20.
        max_receive_message_length: Largest response message accepted, in bytes.
            Default: 64 MiB.
        max_send_message_length: Largest request message sent, in bytes. Default: 64 MiB.
        user_agent: Prefix of the ``user-agent`` header. Default:
            ``deepseek-api-python/<version>``.
        extra: Further raw gRPC channel arguments, as ``(name, value)`` pairs, applied
            last. Default: none.
    """

    keepalive_time: float | None = 300.0
    keepalive_timeout: float = 20.0
    max_receive_message_length: int = 64 * _MIB
    max_send_message_length: int = 64 * _MIB
    user_agent: str = f"deepseek-api-python/{__version__}"
    extra: tuple[tuple[str, str | int], ...] = ()

    def __post_init__(self) -> None:
        if self.keepalive_time is not None and self.keepalive_time <= 0:
            raise ValueError("ChannelOptions: keepalive_time must be positive or None")
        if self.keepalive_timeout <= 0:
            raise ValueError("ChannelOptions: keepalive_timeout must be positive")
        for name in ("max_receive_message_length", "max_send_message_length"):
            if getattr(self, name) <= 0:
                raise ValueError(f"ChannelOptions: {name} must be positive")


@dataclass(frozen=True, slots=True)
class RetryConfig:
    """How a client retries failed calls, following the platform's error policy.

    Client errors (INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED, FAILED_PRECONDITION, ...)
    are never retried. UNAVAILABLE is retried; RESOURCE_EXHAUSTED only when the server
    sends a ``RetryInfo`` (a rate limit: a quota does not lift in seconds);
    DEADLINE_EXCEEDED only while the call's own deadline has time left. A call is
    retried only when repeating it is safe: an idempotent method, or a creation that
    carries a ``request_id`` (the SDK's own ``create_job`` always does). A streamed
    response is retried only before its first message. UNAUTHENTICATED is retried once,
    after fetching a new token, whatever this configuration says.

    The delay before retry ``n`` (1, 2, ...) is the server's ``RetryInfo`` delay when it
    sends one; otherwise ``min(max_backoff, initial_backoff * multiplier ** (n - 1))``,
    shortened by a random fraction of up to ``jitter`` so that many clients failing at
    once do not retry in step. A retry that could not start before the call's deadline
    is not made: the error is raised at once.

    Attributes:
        max_retries: Retries after the first attempt; 0 turns retrying off. Default: 3.
        initial_backoff: Seconds before the first retry. Default: 0.5.
        max_backoff: Longest computed delay, in seconds. Default: 10.
        multiplier: Factor by which each further delay grows. Default: 2.
        jitter: Fraction (0 to 1) by which a computed delay is randomly shortened.
            Default: 0.5, so a delay is between half and all of its nominal value.
    """

    max_retries: int = 3
    initial_backoff: float = 0.5
    max_backoff: float = 10.0
    multiplier: float = 2.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise TypeError("RetryConfig: max_retries must be an int")
        if self.max_retries < 0:
            raise ValueError("RetryConfig: max_retries must not be negative")
        if not self.initial_backoff >= 0:
            raise ValueError("RetryConfig: initial_backoff must not be negative")
        if not (math.isfinite(self.max_backoff) and self.max_backoff >= self.initial_backoff):
            raise ValueError("RetryConfig: max_backoff must be finite, at least initial_backoff")
        if not (math.isfinite(self.multiplier) and self.multiplier >= 1):
            raise ValueError("RetryConfig: multiplier must be a finite number, at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("RetryConfig: jitter must be between 0 and 1")


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    """Client-side rate limiting: the platform guide's token bucket.

    The bucket starts full with ``capacity`` tokens and gains ``refill_per_second``
    tokens a second (continuously, not in whole steps), never holding more than
    ``capacity``. Every attempt of a call (retries included) takes one token; a call
    that finds the bucket empty waits for its token (without blocking the event loop
    in the async client) instead of failing. Waiting counts against the call's timeout.
    Calls get their tokens in the order they asked for them.

    Attributes:
        capacity: The most calls that may start back to back (the burst). At least 1.
        refill_per_second: The sustained rate, in calls a second. Positive.
    """

    capacity: int
    refill_per_second: float

    def __post_init__(self) -> None:
        if isinstance(self.capacity, bool) or not isinstance(self.capacity, int):
            raise TypeError("RateLimitConfig: capacity must be an int")
        if self.capacity < 1:
            raise ValueError("RateLimitConfig: capacity must be at least 1")
        if not (math.isfinite(self.refill_per_second) and self.refill_per_second > 0):
            raise ValueError("RateLimitConfig: refill_per_second must be a positive number")


DEFAULT_RETRY = RetryConfig()
"""The retry configuration clients use unless given one."""
