"""What the sync and async clients share: validated configuration and the closed state."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from typing import Final

from deepseek_api import _watch
from deepseek_api._channel import ChannelSpec
from deepseek_api._config import (
    DEFAULT_RETRY,
    ChannelOptions,
    RateLimitConfig,
    RetryConfig,
    TlsConfig,
)
from deepseek_api._credentials import ClientCredentials, parse_credentials
from deepseek_api._endpoint import parse_endpoint
from deepseek_api._ratelimit import TokenBucket
from deepseek_api._transport import CallLayers


class _UseClientDefault(enum.Enum):
    TOKEN = enum.auto()


USE_CLIENT_DEFAULT: Final = _UseClientDefault.TOKEN
"""Per-call timeout meaning "the client's timeout" (None already means "no deadline")."""

CallTimeout = float | None | _UseClientDefault


class ClientCore:
    """Configuration of a client, validated in the constructor so mistakes fail early."""

    def __init__(
        self,
        endpoint: str,
        credentials: Mapping[str, str] | None,
        *,
        tls: TlsConfig | None,
        options: ChannelOptions | None,
        timeout: float | None,
        retry: RetryConfig = DEFAULT_RETRY,
        rate_limit: RateLimitConfig | None = None,
    ) -> None:
        parsed = parse_endpoint(endpoint)
        self._endpoint = endpoint
        self._channel_spec = ChannelSpec.build(parsed, tls, options or ChannelOptions())
        self._credentials: ClientCredentials | None = (
            None if credentials is None else parse_credentials(credentials)
        )
        self._timeout = _validate_timeout(timeout)
        if not isinstance(retry, RetryConfig):
            raise TypeError(f"retry must be a RetryConfig, not {type(retry).__name__}")
        if rate_limit is not None and not isinstance(rate_limit, RateLimitConfig):
            raise TypeError(
                f"rate_limit must be a RateLimitConfig or None, not {type(rate_limit).__name__}"
            )
        # One bucket per client, shared by its threads (sync) or tasks (async).
        self._layers = CallLayers(
            credentials=self._credentials,
            retry=retry,
            bucket=None if rate_limit is None else TokenBucket(rate_limit),
            token_timeout=self._timeout,
        )
        self._watch_backoff = _watch.DEFAULT_BACKOFF
        self._closed = False

    def __repr__(self) -> str:
        state = ", closed" if self._closed else ""
        return f"{type(self).__name__}(endpoint={self._endpoint!r}{state})"

    @property
    def _retry_config(self) -> RetryConfig:
        # The upload and download helpers resume broken streams with the same backoff.
        return self._layers.retry

    def _call_timeout(self, timeout: CallTimeout) -> float | None:
        return self._timeout if timeout is USE_CLIENT_DEFAULT else timeout

    def _ensure_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{type(self).__name__} is closed; create a new client")


def _validate_timeout(timeout: float | None) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise TypeError(f"timeout must be a number of seconds or None, not {timeout!r}")
    if not (math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds or None, not {timeout}")
    return float(timeout)
