"""Per-client rate limit and concurrent stream cap: RESOURCE_EXHAUSTED with RetryInfo."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import grpc
import grpc.aio
import pytest

import deepseek_api as ds
from deepseek.hpc.v1 import auth_pb2_grpc, job_pb2, job_pb2_grpc
from deepseek_server.app import Gateway
from deepseek_server.config import Settings
from tests.integration.auth.conftest import Client, issue

WatchCall = grpc.aio.UnaryStreamCall[job_pb2.WatchJobsRequest, job_pb2.WatchJobsResponse]


async def _started(settings: Settings) -> Gateway:
    gateway = Gateway(settings)
    await gateway.start()
    return gateway


async def _client(gateway: Gateway, channel: grpc.aio.Channel, user: str) -> Client:
    made = await gateway.identity.clients.create(user, ["compute:read", "compute:write"])
    response = await issue(auth_pb2_grpc.AuthServiceStub(channel), made.client.id, made.secret)
    return Client(made.client.id, made.secret, response.access_token)


@pytest.fixture
async def limited(auth_settings: Callable[..., Settings]) -> AsyncIterator[Gateway]:
    """A gateway allowing 3 calls at once, refilled at one per 2 s, and 2 streams per client."""
    gateway = await _started(
        auth_settings(auth={"requests_per_second": 0.5, "burst": 3, "max_concurrent_streams": 2})
    )
    yield gateway
    await gateway.stop(grace=0)


async def test_over_the_rate_a_client_gets_resource_exhausted_with_retry_info(
    limited: Gateway,
) -> None:
    async with grpc.aio.insecure_channel(limited.address) as channel:
        alice, bob = (
            await _client(limited, channel, "alice"),
            await _client(limited, channel, "bob"),
        )
        jobs = job_pb2_grpc.JobServiceStub(channel)
        request = job_pb2.GetCapabilitiesRequest()
        for _ in range(3):
            await jobs.GetCapabilities(request, metadata=alice.metadata, timeout=10)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await jobs.GetCapabilities(request, metadata=alice.metadata, timeout=10)
        await jobs.GetCapabilities(request, metadata=bob.metadata, timeout=10)

    error = ds.from_rpc_error(raised.value)
    assert isinstance(error, ds.ResourceExhausted)
    assert error.reason == "RATE_LIMITED"
    assert error.retry_delay is not None
    assert 0 < error.retry_delay <= 2.0
    assert [v.subject for v in error.quota_violations] == [f"client:{alice.id}/requests"]


async def test_a_client_may_hold_only_so_many_streams_and_a_closed_one_frees_its_slot(
    limited: Gateway,
) -> None:
    async with grpc.aio.insecure_channel(limited.address) as channel:
        alice = await _client(limited, channel, "alice")
        jobs = job_pb2_grpc.JobServiceStub(channel)

        async def watch() -> grpc.aio.UnaryStreamCall[
            job_pb2.WatchJobsRequest, job_pb2.WatchJobsResponse
        ]:
            call = jobs.WatchJobs(job_pb2.WatchJobsRequest(), metadata=alice.metadata, timeout=30)
            first = await call.read()  # the snapshot has begun: the stream holds its slot
            assert first is not grpc.aio.EOF
            return call

        open_calls = [await watch(), await watch()]
        third = jobs.WatchJobs(job_pb2.WatchJobsRequest(), metadata=alice.metadata, timeout=10)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await third.read()
        open_calls[0].cancel()
        deadline = asyncio.get_running_loop().time() + 5
        while True:  # the server sees the cancellation asynchronously; bounded, on the outcome
            try:
                open_calls[0] = await watch()
                break
            except grpc.aio.AioRpcError as refused_again:
                code = refused_again.code()
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert asyncio.get_running_loop().time() < deadline, "the slot was never freed"
            await asyncio.sleep(0.05)
        for call in open_calls:
            call.cancel()

    error = ds.from_rpc_error(raised.value)
    assert isinstance(error, ds.ResourceExhausted)
    assert error.reason == "TOO_MANY_STREAMS"
    assert error.retry_delay == 1.0
