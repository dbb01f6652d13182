"""Caching and refreshing access tokens, with a fake token source and an injected clock."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from deepseek.hpc.v1 import auth_pb2
from deepseek_api._credentials import ClientCredentials
from deepseek_api._tokens import (
    AccessToken,
    AsyncTokenCache,
    TokenCache,
    access_token,
    issue_token_request,
)

LIFETIME = 100.0


class FakeClock:
    """A clock that moves only when told to, counting how often it is read."""

    def __init__(self) -> None:
        self.now = 0.0
        self.reads = 0
        self.read = threading.Condition()

    def __call__(self) -> float:
        with self.read:
            self.reads += 1
            self.read.notify_all()
        return self.now


class Unavailable(grpc.RpcError):
    pass


class FakeSource:
    """Issues tokens "t1", "t2", ... valid for LIFETIME from the clock's time."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.issued = 0
        self.fail = False
        self.release = threading.Event()
        self.release.set()
        self.issued_async = asyncio.Event()

    def fetch(self) -> AccessToken:
        self.release.wait(timeout=10)
        return self._issue()

    async def fetch_async(self) -> AccessToken:
        await asyncio.to_thread(self.release.wait, 10)
        token = self._issue()
        self.issued_async.set()
        return token

    def _issue(self) -> AccessToken:
        if self.fail:
            raise Unavailable()
        self.issued += 1
        return AccessToken(f"t{self.issued}", self.clock.now, LIFETIME)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def source(clock: FakeClock) -> FakeSource:
    return FakeSource(clock)


def test_the_token_request_is_the_client_credentials_grant() -> None:
    request = issue_token_request(ClientCredentials("c-1", "s3cret", "compute:read"))

    assert request == auth_pb2.IssueTokenRequest(
        grant_type="client_credentials",
        client_id="c-1",
        client_secret="s3cret",
        scope="compute:read",
    )
    assert issue_token_request(ClientCredentials("c-1", "s3cret")).scope == ""


def test_a_token_is_due_for_refresh_in_its_last_fifth_or_minute() -> None:
    short = access_token(auth_pb2.IssueTokenResponse(access_token="a", expires_in=100), 10.0)
    long = access_token(auth_pb2.IssueTokenResponse(access_token="SECRET", expires_in=3600), 0.0)
    endless = access_token(auth_pb2.IssueTokenResponse(access_token="c"), 0.0)

    assert (short.refresh_due(89.9), short.refresh_due(90.0), short.expired(109.9)) == (
        False,
        True,
        False,
    )
    assert short.expired(110.0)
    assert (long.refresh_due(3539.9), long.refresh_due(3540.0)) == (False, True)
    assert (endless.lifetime, endless.refresh_due(1e9), endless.expired(1e9)) == (
        None,
        False,
        False,
    )
    assert "SECRET" not in repr(long)


def test_sync_cache_fetches_once_and_refreshes_ahead_of_expiry(
    clock: FakeClock, source: FakeSource
) -> None:
    cache = TokenCache(source.fetch, clock)

    assert [cache.get().value for _ in range(3)] == ["t1"] * 3
    clock.now = 79.0
    assert cache.get().value == "t1"
    clock.now = 81.0
    assert cache.get().value == "t2"
    assert source.issued == 2


def test_sync_cache_single_flights_many_threads_waiting_for_a_token(
    clock: FakeClock, source: FakeSource
) -> None:
    cache = TokenCache(source.fetch, clock)
    source.release.clear()
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = [pool.submit(cache.get) for _ in range(50)]
        with clock.read:
            assert clock.read.wait_for(lambda: clock.reads >= 50, timeout=10)
        source.release.set()
        values = {result.result(timeout=10).value for result in results}

    assert values == {"t1"}
    assert source.issued == 1


def test_sync_cache_shares_a_failed_fetch_and_tries_again_later(
    clock: FakeClock, source: FakeSource
) -> None:
    cache = TokenCache(source.fetch, clock)
    source.fail = True

    with pytest.raises(Unavailable):
        cache.get()
    source.fail = False
    assert cache.get().value == "t1"


def test_sync_cache_keeps_a_valid_token_when_refreshing_ahead_fails(
    clock: FakeClock, source: FakeSource
) -> None:
    cache = TokenCache(source.fetch, clock)
    cache.get()
    clock.now = 90.0
    source.fail = True

    assert cache.get().value == "t1"
    source.fail = False
    assert cache.get().value == "t1"  # quiet for a moment after the failure
    clock.now = 91.5
    assert cache.get().value == "t2"


def test_invalidating_forgets_only_the_refused_token(clock: FakeClock, source: FakeSource) -> None:
    cache = TokenCache(source.fetch, clock)
    refused = cache.get()
    cache.invalidate(refused)
    fresh = cache.get()

    cache.invalidate(refused)

    assert (fresh.value, cache.get().value, source.issued) == ("t2", "t2", 2)


async def test_async_cache_single_flights_fifty_tasks(clock: FakeClock, source: FakeSource) -> None:
    cache = AsyncTokenCache(source.fetch_async, clock)
    source.release.clear()
    tasks = [asyncio.create_task(cache.get()) for _ in range(50)]
    await asyncio.sleep(0)  # each task runs up to its wait for the token
    assert clock.reads == 50
    source.release.set()

    tokens = await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)

    assert {token.value for token in tokens} == {"t1"}
    assert source.issued == 1


async def test_async_cache_refreshes_ahead_in_the_background(
    clock: FakeClock, source: FakeSource
) -> None:
    cache = AsyncTokenCache(source.fetch_async, clock)
    await cache.get()
    clock.now = 85.0
    source.release.clear()
    source.issued_async.clear()

    current = [(await cache.get()).value for _ in range(5)]
    source.release.set()
    await asyncio.wait_for(source.issued_async.wait(), timeout=10)

    assert current == ["t1"] * 5
    assert (await cache.get()).value == "t2"
    assert source.issued == 2


async def test_async_cache_waiters_share_a_failure_and_a_cancelled_waiter_does_not_cancel(
    clock: FakeClock, source: FakeSource
) -> None:
    cache = AsyncTokenCache(source.fetch_async, clock)
    source.release.clear()
    impatient = asyncio.create_task(cache.get())
    patient = asyncio.create_task(cache.get())
    await asyncio.sleep(0)
    impatient.cancel()
    source.release.set()

    assert (await asyncio.wait_for(patient, timeout=10)).value == "t1"
    with pytest.raises(asyncio.CancelledError):
        await impatient
    clock.now = 200.0
    source.fail = True
    results = await asyncio.gather(cache.get(), cache.get(), return_exceptions=True)
    assert [type(result) for result in results] == [Unavailable, Unavailable]
