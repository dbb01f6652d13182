"""Both clients against a real grpc.aio server.

The sync client runs in worker threads (asyncio.to_thread), leaving the event loop free to
serve it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import grpc
import pytest
from google.protobuf import wrappers_pb2
from google.rpc import error_details_pb2

import deepseek_api as ds

if TYPE_CHECKING:
    from tests.integration.sdk.conftest import ErrorsStub, RunningServer

ERROR_CLASSES: list[tuple[grpc.StatusCode, type[ds.APIException]]] = [
    (grpc.StatusCode.CANCELLED, ds.Cancelled),
    (grpc.StatusCode.UNKNOWN, ds.Unknown),
    (grpc.StatusCode.INVALID_ARGUMENT, ds.InvalidArgument),
    (grpc.StatusCode.DEADLINE_EXCEEDED, ds.DeadlineExceeded),
    (grpc.StatusCode.NOT_FOUND, ds.NotFound),
    (grpc.StatusCode.ALREADY_EXISTS, ds.AlreadyExists),
    (grpc.StatusCode.PERMISSION_DENIED, ds.PermissionDenied),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, ds.ResourceExhausted),
    (grpc.StatusCode.FAILED_PRECONDITION, ds.FailedPrecondition),
    (grpc.StatusCode.ABORTED, ds.Aborted),
    (grpc.StatusCode.OUT_OF_RANGE, ds.OutOfRange),
    (grpc.StatusCode.UNIMPLEMENTED, ds.Unimplemented),
    (grpc.StatusCode.INTERNAL, ds.Internal),
    (grpc.StatusCode.UNAVAILABLE, ds.Unavailable),
    (grpc.StatusCode.DATA_LOSS, ds.DataLoss),
    (grpc.StatusCode.UNAUTHENTICATED, ds.Unauthenticated),
]


def request(code: grpc.StatusCode) -> wrappers_pb2.StringValue:
    """A ``test.Errors`` request asking to fail with ``code``."""
    return wrappers_pb2.StringValue(value=code.name)


async def collect_values(stream: AsyncIterator[wrappers_pb2.StringValue], into: list[str]) -> None:
    """Append each streamed value to ``into`` as it arrives, until the stream ends."""
    async for response in stream:
        into.append(response.value)


def assert_test_failure(
    error: ds.APIException, code: grpc.StatusCode, cls: type[ds.APIException]
) -> None:
    """The error the test server's status becomes, down to every detail."""
    assert type(error) is cls
    assert error.code == code.name
    assert str(error) == f"{code.name}: job job-123 failed with {code.name}"
    assert error.reason == "TEST_FAILURE"
    assert error.domain == "hpc.deepseek.com"
    assert error.request_id == "req-42"
    assert error.field_violations == [("resource_spec.nodes", "must be 1-1024")]
    assert error.quota_violations == [("user:researcher_007", "50 concurrent jobs")]
    assert error.retry_delay == 2.25
    assert error.resource_info == error_details_pb2.ResourceInfo(
        resource_type="deepseek.hpc.v1.Job", resource_name="job-123"
    )
    assert len(error.details) == 5
    assert isinstance(error.__cause__, grpc.RpcError)


async def test_async_check_health(server: RunningServer) -> None:
    async with ds.AsyncDeepSeekClient(server.address) as client:
        assert await client.check_health() == "SERVING"
        assert await client.check_health("test.Draining") == "NOT_SERVING"
        with pytest.raises(ds.NotFound):
            await client.check_health("test.NoSuchService")


@pytest.mark.parametrize(
    ("code", "cls"), ERROR_CLASSES, ids=lambda value: getattr(value, "name", "")
)
async def test_async_unary_failure_raises_its_class_with_every_detail(
    server: RunningServer,
    errors_stub: type[ErrorsStub],
    code: grpc.StatusCode,
    cls: type[ds.APIException],
) -> None:
    async with ds.AsyncDeepSeekClient(server.address) as client:
        with pytest.raises(ds.APIException) as raised:
            await client._unary(client._stub(errors_stub).Fail, request(code))

    assert_test_failure(raised.value, code, cls)


async def test_async_stream_yields_then_raises_with_every_detail(
    server: RunningServer, errors_stub: type[ErrorsStub]
) -> None:
    received: list[str] = []
    async with ds.AsyncDeepSeekClient(server.address) as client:
        stream = client._server_stream(
            client._stub(errors_stub).StreamThenFail, request(grpc.StatusCode.UNAVAILABLE)
        )
        with pytest.raises(ds.Unavailable) as raised:
            await collect_values(stream, into=received)

    assert received == ["first", "second", "third"]
    assert_test_failure(raised.value, grpc.StatusCode.UNAVAILABLE, ds.Unavailable)


async def test_async_leaving_a_stream_early_cancels_it_on_the_server(
    server: RunningServer, errors_stub: type[ErrorsStub]
) -> None:
    async with ds.AsyncDeepSeekClient(server.address) as client:
        stream = client._server_stream(
            client._stub(errors_stub).StreamForever, request(grpc.StatusCode.OK), timeout=None
        )
        assert (await anext(stream)).value == "tick"
        await stream.aclose()

        await asyncio.wait_for(server.errors.stream_cancelled.wait(), timeout=10)


async def test_async_default_timeout_becomes_the_deadline(
    server: RunningServer, errors_stub: type[ErrorsStub]
) -> None:
    async with ds.AsyncDeepSeekClient(server.address, timeout=0.2) as client:
        with pytest.raises(ds.DeadlineExceeded):
            await client._unary(client._stub(errors_stub).Hang, request(grpc.StatusCode.OK))


async def test_async_unreachable_server_is_unavailable(refused_address: str) -> None:
    async with ds.AsyncDeepSeekClient(refused_address, timeout=10) as client:
        with pytest.raises(ds.Unavailable):
            await client.check_health()


async def test_client_made_outside_the_loop_works_inside_it(server: RunningServer) -> None:
    client = await asyncio.to_thread(ds.AsyncDeepSeekClient, server.address)
    try:
        assert await client.check_health() == "SERVING"
    finally:
        await client.close()


async def test_async_close_is_idempotent_and_a_closed_client_refuses_calls(
    server: RunningServer,
) -> None:
    client = ds.AsyncDeepSeekClient(server.address)
    assert await client.check_health() == "SERVING"

    await client.close()
    await client.close()
    await client.aclose()

    with pytest.raises(RuntimeError, match="AsyncDeepSeekClient is closed"):
        await client.check_health()
    with pytest.raises(RuntimeError, match="is closed"):
        async with client:
            pass


async def test_async_closing_an_unused_client_opens_nothing() -> None:
    client = ds.AsyncDeepSeekClient("127.0.0.1:1")
    await client.close()

    with pytest.raises(RuntimeError, match="is closed"):
        await client.check_health()


async def test_sync_check_health(server: RunningServer) -> None:
    def check() -> tuple[str, str]:
        with ds.DeepSeekClient(server.address) as client:
            with pytest.raises(ds.NotFound):
                client.check_health("test.NoSuchService")
            return client.check_health(), client.check_health("test.Draining")

    assert await asyncio.to_thread(check) == ("SERVING", "NOT_SERVING")


@pytest.mark.parametrize(
    ("code", "cls"), ERROR_CLASSES, ids=lambda value: getattr(value, "name", "")
)
async def test_sync_unary_failure_raises_its_class_with_every_detail(
    server: RunningServer,
    errors_stub: type[ErrorsStub],
    code: grpc.StatusCode,
    cls: type[ds.APIException],
) -> None:
    def fail() -> ds.APIException:
        with ds.DeepSeekClient(server.address) as client:
            with pytest.raises(ds.APIException) as raised:
                client._unary(client._stub(errors_stub).Fail, request(code))
            return raised.value

    assert_test_failure(await asyncio.to_thread(fail), code, cls)


async def test_sync_stream_yields_then_raises_with_every_detail(
    server: RunningServer, errors_stub: type[ErrorsStub]
) -> None:
    received: list[str] = []

    def consume() -> ds.APIException:
        with ds.DeepSeekClient(server.address) as client:
            stream = client._server_stream(
                client._stub(errors_stub).StreamThenFail, request(grpc.StatusCode.UNAVAILABLE)
            )
            with pytest.raises(ds.Unavailable) as raised:
                received.extend(response.value for response in stream)
            return raised.value

    error = await asyncio.to_thread(consume)

    assert received == ["first", "second", "third"]
    assert_test_failure(error, grpc.StatusCode.UNAVAILABLE, ds.Unavailable)


async def test_sync_leaving_a_stream_early_cancels_it_on_the_server(
    server: RunningServer, errors_stub: type[ErrorsStub]
) -> None:
    client = ds.DeepSeekClient(server.address)
    try:

        def take_one() -> str:
            stream = client._server_stream(
                client._stub(errors_stub).StreamForever, request(grpc.StatusCode.OK), timeout=None
            )
            first: str = next(stream).value
            stream.close()
            return first

        assert await asyncio.to_thread(take_one) == "tick"
        await asyncio.wait_for(server.errors.stream_cancelled.wait(), timeout=10)
    finally:
        client.close()


async def test_sync_default_timeout_becomes_the_deadline(
    server: RunningServer, errors_stub: type[ErrorsStub]
) -> None:
    def hang() -> None:
        with ds.DeepSeekClient(server.address, timeout=0.2) as client:
            client._unary(client._stub(errors_stub).Hang, request(grpc.StatusCode.OK))

    with pytest.raises(ds.DeadlineExceeded):
        await asyncio.to_thread(hang)


async def test_sync_unreachable_server_is_unavailable(refused_address: str) -> None:
    def check() -> str:
        with ds.DeepSeekClient(refused_address, timeout=10) as client:
            return client.check_health()

    with pytest.raises(ds.Unavailable):
        await asyncio.to_thread(check)


async def test_sync_client_is_shared_across_threads(server: RunningServer) -> None:
    def check_from_eight_threads() -> list[str]:
        with (
            ds.DeepSeekClient(server.address) as client,
            ThreadPoolExecutor(max_workers=8) as executor,
        ):
            return list(executor.map(lambda _: client.check_health(), range(32)))

    assert await asyncio.to_thread(check_from_eight_threads) == ["SERVING"] * 32


async def test_sync_close_is_idempotent_and_a_closed_client_refuses_calls(
    server: RunningServer,
) -> None:
    def use_after_close() -> None:
        client = ds.DeepSeekClient(server.address)
        assert client.check_health() == "SERVING"

        client.close()
        client.close()

        with pytest.raises(RuntimeError, match="DeepSeekClient is closed"):
            client.check_health()
        with pytest.raises(RuntimeError, match="is closed"), client:
            pass

    await asyncio.to_thread(use_after_close)
