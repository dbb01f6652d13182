"""The channels a client calls through: the interceptors, in order, around the channel.

Outermost first: authentication (when the client has credentials), retries, rate
limiting (when configured). Tokens are fetched through the same connection without the
authentication and rate-limiting layers (sync), or through a second channel to the same
endpoint (``grpc.aio`` fixes a channel's interceptors when it is made); both retry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import grpc
import grpc.aio

from deepseek.hpc.v1 import auth_pb2_grpc
from deepseek_api import _intercept_aio, _intercept_sync
from deepseek_api._channel import ChannelSpec
from deepseek_api._config import RetryConfig
from deepseek_api._credentials import ClientCredentials
from deepseek_api._ratelimit import TokenBucket
from deepseek_api._retry import RetryPolicy
from deepseek_api._tokens import (
    AccessToken,
    AsyncTokenCache,
    TokenCache,
    access_token,
    issue_token_request,
)


@dataclass(frozen=True, slots=True)
class CallLayers:
    """What a client's calls pass through besides the channel itself.

    Attributes:
        credentials: Exchanged for access tokens; None for a gateway without authentication.
        retry: The retry configuration.
        bucket: The client's token bucket; None for no client-side rate limiting.
        token_timeout: Deadline of a token fetch, in seconds (None for none).
    """

    credentials: ClientCredentials | None
    retry: RetryConfig
    bucket: TokenBucket | None
    token_timeout: float | None


@dataclass(frozen=True, slots=True)
class SyncChannel:
    """The channel of a sync client, and the token cache of its authentication layer."""

    calls: grpc.Channel
    token_cache: TokenCache | None


def open_sync(spec: ChannelSpec, layers: CallLayers) -> SyncChannel:
    """A sync channel with the client's interceptors; closing it closes the connection."""
    channel = spec.open()
    token_cache = None
    retry = _intercept_sync.RetryInterceptor(RetryPolicy(layers.retry))
    interceptors: list[_intercept_sync.Interceptor] = []
    if layers.credentials is not None:
        token_stub = auth_pb2_grpc.AuthServiceStub(grpc.intercept_channel(channel, retry))
        request = issue_token_request(layers.credentials)

        def fetch() -> AccessToken:
            requested_at = time.monotonic()
            response = token_stub.IssueToken(request, timeout=layers.token_timeout)
            return access_token(response, requested_at)

        token_cache = TokenCache(fetch)
        interceptors.append(_intercept_sync.AuthInterceptor(token_cache))
    interceptors.append(retry)
    if layers.bucket is not None:
        interceptors.append(_intercept_sync.RateLimitInterceptor(layers.bucket))
    return SyncChannel(grpc.intercept_channel(channel, *interceptors), token_cache)


@dataclass(slots=True)
class AioChannels:
    """The ``grpc.aio`` channels of an async client; close them together."""

    calls: grpc.aio.Channel
    tokens: grpc.aio.Channel | None
    token_cache: AsyncTokenCache | None

    async def close(self) -> None:
        """Stop a token fetch in flight and close both channels, cancelling calls."""
        if self.token_cache is not None:
            await self.token_cache.close()
        await self.calls.close()
        if self.tokens is not None:
            await self.tokens.close()


def open_aio(spec: ChannelSpec, layers: CallLayers) -> AioChannels:
    """``grpc.aio`` channels with the client's interceptors, bound to the running loop."""
    retry = _intercept_aio.RetryInterceptor(RetryPolicy(layers.retry))
    interceptors: list[grpc.aio.ClientInterceptor] = []
    token_channel = token_cache = None
    if layers.credentials is not None:
        token_channel = spec.open_aio(_intercept_aio.per_shape([retry]))
        token_stub = auth_pb2_grpc.AuthServiceStub(token_channel)
        request = issue_token_request(layers.credentials)

        async def fetch() -> AccessToken:
            requested_at = time.monotonic()
            response = await token_stub.IssueToken(request, timeout=layers.token_timeout)
            return access_token(response, requested_at)

        token_cache = AsyncTokenCache(fetch)
        interceptors.append(_intercept_aio.AuthInterceptor(token_cache))
    interceptors.append(retry)
    if layers.bucket is not None:
        interceptors.append(_intercept_aio.RateLimitInterceptor(layers.bucket))
    calls = spec.open_aio(_intercept_aio.per_shape(interceptors))
    return AioChannels(calls, token_channel, token_cache)
