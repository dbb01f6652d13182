"""Access tokens: fetching them with the client's credentials, caching, refreshing ahead.

A cache hands out its token until the token is due for refresh (in the last fifth of its
lifetime, or its last minute when that is shorter). A token due for refresh but still
valid is replaced in the background of the calls using it: one caller fetches, the rest
carry on with the current token. A missing or expired token makes callers wait for a
fetch, and however many wait, there is one fetch in flight (it single-flights): they all
get its token, or its error.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from deepseek.hpc.v1 import auth_pb2
from deepseek_api._credentials import ClientCredentials

_REFRESH_AHEAD_FRACTION = 0.2
_REFRESH_AHEAD_MAX = 60.0
# After a failed refresh ahead of expiry, calls keep the valid token this long before
# trying again, so that an auth outage does not double the traffic of every call.
_REFRESH_RETRY_INTERVAL = 1.0

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A bearer token and when it stops being usable.

    Attributes:
        value: The token, sent as ``authorization: Bearer <value>``.
        obtained_at: Clock reading when it was requested (so expiry errs early).
        lifetime: Seconds it is valid from ``obtained_at``; None when the server gave no
            lifetime, in which case it is used until the server refuses it.
    """

    value: str = field(repr=False)
    obtained_at: float
    lifetime: float | None

    def refresh_due(self, now: float) -> bool:
        """Whether a new token should be fetched (this one may still be valid)."""
        if self.lifetime is None:
            return False
        ahead = min(_REFRESH_AHEAD_MAX, _REFRESH_AHEAD_FRACTION * self.lifetime)
        return now >= self.obtained_at + self.lifetime - ahead

    def expired(self, now: float) -> bool:
        """Whether the token is no longer usable."""
        return self.lifetime is not None and now >= self.obtained_at + self.lifetime


def issue_token_request(credentials: ClientCredentials) -> auth_pb2.IssueTokenRequest:
    """The ``IssueTokenRequest`` of the client-credentials grant."""
    return auth_pb2.IssueTokenRequest(
        grant_type="client_credentials",
        client_id=credentials.client_id,
        client_secret=credentials.client_secret,
        scope=credentials.scope or "",
    )


def access_token(response: auth_pb2.IssueTokenResponse, requested_at: float) -> AccessToken:
    """The token of an ``IssueTokenResponse`` to a request sent at ``requested_at``."""
    lifetime = float(response.expires_in) if response.expires_in > 0 else None
    return AccessToken(response.access_token, requested_at, lifetime)


class TokenCache:
    """The token of a sync client, shared by its threads."""

    def __init__(self, fetch: Callable[[], AccessToken], clock: Clock = time.monotonic) -> None:
        """``fetch`` gets a new token (blocking), raising ``grpc.RpcError`` on failure."""
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._token: AccessToken | None = None
        self._flight: concurrent.futures.Future[AccessToken] | None = None
        self._quiet_until = float("-inf")

    def get(self) -> AccessToken:
        """A usable token: the cached one, or a fresh one fetched now.

        Raises:
            grpc.RpcError: if a token was needed and fetching it failed.
        """
        with self._lock:
            token, now = self._token, self._clock()
            if token is not None and not token.refresh_due(now):
                return token
            usable = token if token is not None and not token.expired(now) else None
            flight = self._flight
            if flight is None and usable is not None and now < self._quiet_until:
                return usable
            if flight is not None:
                if usable is not None:
                    return usable
                leader = False
            else:
                flight = self._flight = concurrent.futures.Future()
                leader = True
        if not leader:
            return flight.result()
        return self._lead(flight, usable)

    def _lead(
        self, flight: concurrent.futures.Future[AccessToken], usable: AccessToken | None
    ) -> AccessToken:
        try:
            new = self._fetch()
        except Exception as err:
            with self._lock:
                self._flight = None
                if usable is not None:
                    self._quiet_until = self._clock() + _REFRESH_RETRY_INTERVAL
            flight.set_exception(err)
            if usable is not None:
                return usable
            raise
        except BaseException as err:
            with self._lock:
                self._flight = None
            flight.set_exception(err)
            raise
        with self._lock:
            self._token, self._flight = new, None
        flight.set_result(new)
        return new

    def invalidate(self, token: AccessToken) -> None:
        """Forget ``token``, which the server refused, unless it was replaced already."""
        with self._lock:
            if self._token is token:
                self._token = None


class AsyncTokenCache:
    """The token of an async client, shared by its tasks (on one event loop)."""

    def __init__(
        self, fetch: Callable[[], Awaitable[AccessToken]], clock: Clock = time.monotonic
    ) -> None:
        """``fetch`` gets a new token, raising ``grpc.RpcError`` on failure."""
        self._fetch = fetch
        self._clock = clock
        self._token: AccessToken | None = None
        self._flight: asyncio.Task[AccessToken] | None = None
        self._quiet_until = float("-inf")

    async def get(self) -> AccessToken:
        """A usable token: the cached one, or a fresh one once fetched.

        Raises:
            grpc.RpcError: if a token was needed and fetching it failed.
        """
        token, now = self._token, self._clock()
        if token is not None and not token.refresh_due(now):
            return token
        if token is not None and not token.expired(now):
            if self._flight is None and now >= self._quiet_until:
                self._start_refresh(ahead=True)
            return token
        flight = self._flight or self._start_refresh(ahead=False)
        # Shielded: one waiter giving up must not cancel the fetch the others wait for.
        return await asyncio.shield(flight)

    def _start_refresh(self, *, ahead: bool) -> asyncio.Task[AccessToken]:
        flight = asyncio.get_running_loop().create_task(self._refresh(ahead=ahead))
        flight.add_done_callback(_retrieve_exception)
        self._flight = flight
        return flight

    async def _refresh(self, *, ahead: bool) -> AccessToken:
        try:
            token = await self._fetch()
        except Exception:
            if ahead:
                self._quiet_until = self._clock() + _REFRESH_RETRY_INTERVAL
            self._flight = None
            raise
        except BaseException:
            self._flight = None
            raise
        self._token, self._flight = token, None
        return token

    def invalidate(self, token: AccessToken) -> None:
        """Forget ``token``, which the server refused, unless it was replaced already."""
        if self._token is token:
            self._token = None

    async def close(self) -> None:
        """Cancel a fetch in flight (when its client closes)."""
        flight = self._flight
        if flight is not None:
            flight.cancel()
            await asyncio.gather(flight, return_exceptions=True)


def _retrieve_exception(task: asyncio.Task[AccessToken]) -> None:
    # A failed refresh ahead of expiry has no waiter; its error is not worth a warning.
    if not task.cancelled():
        task.exception()
