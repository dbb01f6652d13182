"""The gateway in-process: health, reflection, UNIMPLEMENTED services, errors, draining."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

import deepseek_api as ds
from deepseek_server import errors
from deepseek_server.app import Gateway
from deepseek_server.config import Settings

SettingsFactory = Callable[..., Settings]

API_SERVICES = [
    "deepseek.hpc.v1.AccountService",
    "deepseek.hpc.v1.AuditService",
    "deepseek.hpc.v1.AuthService",
    "deepseek.hpc.v1.DataChunkService",
    "deepseek.hpc.v1.JobService",
]


async def test_health_is_serving_for_the_server_and_every_service(gateway: Gateway) -> None:
    async with ds.AsyncDeepSeekClient(gateway.address) as client:
        statuses = {name: await client.check_health(name) for name in ["", *API_SERVICES]}

    assert set(statuses.values()) == {"SERVING"}


async def test_reflection_lists_the_api_health_and_reflection(gateway: Gateway) -> None:
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        responses = [r async for r in stub.ServerReflectionInfo(iter([request]))]

    names = sorted(s.name for s in responses[0].list_services_response.service)
    assert names == [
        *API_SERVICES,
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    ]


async def test_reflection_can_be_switched_off(settings_for: SettingsFactory) -> None:
    gateway = Gateway(settings_for(server={"reflection": False}))
    await gateway.start()
    try:
        async with grpc.aio.insecure_channel(gateway.address) as channel:
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            call = stub.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")])
            )
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                _ = [r async for r in call]
    finally:
        await gateway.stop(grace=0)

    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_a_method_not_served_answers_unimplemented_in_every_call_shape(
    faulty_gateway: tuple[Gateway, _Faulty],
) -> None:
    async with grpc.aio.insecure_channel(faulty_gateway[0].address) as channel:
        calls: dict[str, Any] = {
            "unary": _faulty(channel, "NotYet")(b""),
            "server stream": _drain(_faulty(channel, "NotYetStream", stream=True)(b"")),
            "bidi stream": _drain(_faulty_bidi(channel, "NotYetBidi")(iter([b"x"]))),
        }
        raised = {}
        for shape, call in calls.items():
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await call
            raised[shape] = ds.from_rpc_error(error.value)

    for shape, exc in raised.items():
        assert isinstance(exc, ds.Unimplemented), shape
        assert exc.reason == "NOT_IMPLEMENTED", shape
        assert exc.domain == "hpc.deepseek.com", shape
        assert "not served by this gateway version" in exc.message, shape


async def _drain(call: Any) -> list[Any]:
    return [response async for response in call]


# A test-only service whose handlers raise domain errors, to see what a client receives.
class _Faulty:
    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.entered = asyncio.Event()

    def handler(self) -> grpc.GenericRpcHandler:
        identity = {"request_deserializer": bytes, "response_serializer": bytes}
        return grpc.method_handlers_generic_handler(
            "test.Faulty",
            {
                "Invalid": grpc.unary_unary_rpc_method_handler(self.invalid, **identity),
                "Quota": grpc.unary_unary_rpc_method_handler(self.quota, **identity),
                "Missing": grpc.unary_unary_rpc_method_handler(self.missing, **identity),
                "Crash": grpc.unary_unary_rpc_method_handler(self.crash, **identity),
                "Stream": grpc.unary_stream_rpc_method_handler(self.stream, **identity),
                "Slow": grpc.unary_unary_rpc_method_handler(self.slow, **identity),
                # What a generated servicer base class does for a method not written yet.
                "NotYet": grpc.unary_unary_rpc_method_handler(self.not_yet, **identity),
                "NotYetStream": grpc.unary_stream_rpc_method_handler(self.not_yet, **identity),
                "NotYetBidi": grpc.stream_stream_rpc_method_handler(self.not_yet, **identity),
            },
        )

    async def invalid(self, request: bytes, context: object) -> bytes:
        raise errors.InvalidArgument(
            [
                errors.FieldViolation("spec.resource_spec.nodes", "must be between 1 and 1024"),
                errors.FieldViolation("spec.command", "must not be empty"),
            ]
        )

    async def quota(self, request: bytes, context: object) -> bytes:
        raise errors.ResourceExhausted(
            "concurrent job quota reached",
            reason="QUOTA_EXCEEDED",
            violations=[errors.QuotaViolation("user:alice/concurrent_jobs", "limit 50, used 50")],
            retry_after_seconds=1.5,
        )

    async def missing(self, request: bytes, context: object) -> bytes:
        raise errors.NotFound("job", "job-404")

    async def crash(self, request: bytes, context: object) -> bytes:
        raise RuntimeError("secret internal detail")

    async def stream(self, request: bytes, context: object) -> AsyncIterator[bytes]:
        yield b"first"
        raise errors.DataLoss("checksum mismatch at offset 4096", reason="CHECKSUM_MISMATCH")

    def not_yet(self, request: object, context: object) -> bytes:
        raise NotImplementedError("Method not implemented!")

    async def slow(self, request: bytes, context: object) -> bytes:
        self.entered.set()
        await self.release.wait()
        return b"finished"


@pytest.fixture
async def faulty_gateway(
    settings_for: SettingsFactory,
) -> AsyncIterator[tuple[Gateway, _Faulty]]:
    gateway = Gateway(settings_for())
    faulty = _Faulty()
    gateway.server.add_generic_rpc_handlers([faulty.handler()])
    await gateway.start()
    yield gateway, faulty
    await gateway.stop(grace=0)


def _faulty(channel: grpc.aio.Channel, method: str, *, stream: bool = False) -> Any:
    """A callable for ``test.Faulty/method`` taking and returning raw bytes."""
    return (channel.unary_stream if stream else channel.unary_unary)(f"/test.Faulty/{method}")


def _faulty_bidi(channel: grpc.aio.Channel, method: str) -> Any:
    """A bidirectional-streaming callable for ``test.Faulty/method`` on raw bytes."""
    return channel.stream_stream(f"/test.Faulty/{method}")


async def _call(address: str, method: str, **kwargs: Any) -> ds.APIException:
    async with grpc.aio.insecure_channel(address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await _faulty(channel, method)(b"", **kwargs)
    return ds.from_rpc_error(raised.value)


async def test_invalid_argument_reaches_the_client_with_every_field(
    faulty_gateway: tuple[Gateway, _Faulty],
) -> None:
    exc = await _call(faulty_gateway[0].address, "Invalid")

    assert isinstance(exc, ds.InvalidArgument)
    assert exc.code == "INVALID_ARGUMENT"
    assert (exc.reason, exc.domain) == ("INVALID_ARGUMENT", "hpc.deepseek.com")
    assert exc.field_violations == [
        ds.FieldViolation("spec.resource_spec.nodes", "must be between 1 and 1024"),
        ds.FieldViolation("spec.command", "must not be empty"),
    ]


async def test_quota_failure_and_retry_info_reach_the_client(
    faulty_gateway: tuple[Gateway, _Faulty],
) -> None:
    exc = await _call(faulty_gateway[0].address, "Quota")

    assert isinstance(exc, ds.ResourceExhausted)
    assert exc.reason == "QUOTA_EXCEEDED"
    assert exc.quota_violations == [
        ds.QuotaViolation("user:alice/concurrent_jobs", "limit 50, used 50")
    ]
    assert exc.retry_delay == pytest.approx(1.5)


async def test_not_found_names_the_resource_and_echoes_the_request_id(
    faulty_gateway: tuple[Gateway, _Faulty],
) -> None:
    exc = await _call(
        faulty_gateway[0].address, "Missing", metadata=(("x-request-id", "req-7f3a"),)
    )

    assert isinstance(exc, ds.NotFound)
    assert str(exc) == "NOT_FOUND: job job-404 not found"
    assert exc.request_id == "req-7f3a"
    info = exc.resource_info
    assert info is not None
    assert (info.resource_type, info.resource_name) == ("job", "job-404")


async def test_an_unexpected_exception_is_internal_and_leaks_nothing(
    faulty_gateway: tuple[Gateway, _Faulty], caplog: pytest.LogCaptureFixture
) -> None:
    exc = await _call(faulty_gateway[0].address, "Crash")

    assert isinstance(exc, ds.Internal)
    assert "secret" not in exc.message
    assert exc.request_id
    assert "secret internal detail" in caplog.text


async def test_an_error_raised_mid_stream_arrives_after_the_messages_before_it(
    faulty_gateway: tuple[Gateway, _Faulty],
) -> None:
    received: list[bytes] = []

    async def read_all(call: Any) -> None:
        async for message in call:
            received.append(message)

    async with grpc.aio.insecure_channel(faulty_gateway[0].address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await read_all(_faulty(channel, "Stream", stream=True)(b""))
    exc = ds.from_rpc_error(raised.value)

    assert received == [b"first"]
    assert isinstance(exc, ds.DataLoss)
    assert exc.reason == "CHECKSUM_MISMATCH"


async def test_stop_drains_calls_in_flight_and_refuses_new_ones(
    faulty_gateway: tuple[Gateway, _Faulty],
) -> None:
    gateway, faulty = faulty_gateway
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        watch = health.Watch(health_pb2.HealthCheckRequest(service=""))
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
        in_flight = asyncio.ensure_future(_faulty(channel, "Slow")(b""))
        await asyncio.wait_for(faulty.entered.wait(), 10)

        stopping = asyncio.ensure_future(gateway.stop(grace=30))
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
        watch.cancel()  # a watcher told NOT_SERVING goes elsewhere; this one would hold the grace
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _faulty(channel, "Missing")(b"", timeout=5)
        faulty.release.set()

        assert await asyncio.wait_for(in_flight, 10) == b"finished"
        await asyncio.wait_for(stopping, 10)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
