"""A small grpc.aio server for the SDK's integration tests, on 127.0.0.1 port 0.

It serves grpc.health.v1 and ``test.Errors``, whose methods fail with the status code
named in the request, carrying every detail type the gateway sends.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2, wrappers_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_status import rpc_status

StringValue = wrappers_pb2.StringValue
STREAMED_BEFORE_FAILING = ("first", "second", "third")


def rich_status(code: grpc.StatusCode) -> status_pb2.Status:
    """The Status the test server fails with: every detail type, as the gateway sends."""
    details = []
    for message in _error_details():
        packed = any_pb2.Any()
        packed.Pack(message)
        details.append(packed)
    return status_pb2.Status(
        code=code.value[0], message=f"job job-123 failed with {code.name}", details=details
    )


def _error_details() -> list[Message]:
    bad_request = error_details_pb2.BadRequest()
    bad_request.field_violations.add(field="resource_spec.nodes", description="must be 1-1024")
    quota_failure = error_details_pb2.QuotaFailure()
    quota_failure.violations.add(subject="user:researcher_007", description="50 concurrent jobs")
    return [
        error_details_pb2.ErrorInfo(
            reason="TEST_FAILURE", domain="hpc.deepseek.com", metadata={"request_id": "req-42"}
        ),
        bad_request,
        quota_failure,
        error_details_pb2.RetryInfo(
            retry_delay=duration_pb2.Duration(seconds=2, nanos=250_000_000)
        ),
        error_details_pb2.ResourceInfo(
            resource_type="deepseek.hpc.v1.Job", resource_name="job-123"
        ),
    ]


@dataclass
class ErrorsService:
    """The ``test.Errors`` handlers, with events the tests wait on."""

    stream_cancelled: asyncio.Event = field(default_factory=asyncio.Event)

    async def fail(self, request: StringValue, context: Any) -> StringValue:
        await context.abort_with_status(rpc_status.to_status(rich_status(_code(request))))
        raise AssertionError("abort_with_status returned")

    async def stream_then_fail(
        self, request: StringValue, context: Any
    ) -> AsyncIterator[StringValue]:
        for value in STREAMED_BEFORE_FAILING:
            yield StringValue(value=value)
        await context.abort_with_status(rpc_status.to_status(rich_status(_code(request))))

    async def stream_forever(
        self, request: StringValue, context: Any
    ) -> AsyncIterator[StringValue]:
        context.add_done_callback(self._note_cancellation)
        while True:
            yield StringValue(value="tick")

    def _note_cancellation(self, context: Any) -> None:
        # The stream never ends by itself, so its end means the client cancelled it.
        # (A grpc.aio ServicerContext does not report cancelled() reliably here.)
        self.stream_cancelled.set()

    async def hang(self, request: StringValue, context: Any) -> StringValue:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    def handler(self) -> grpc.GenericRpcHandler:
        """The generic handler serving ``test.Errors``."""
        codec: dict[str, Any] = {
            "request_deserializer": StringValue.FromString,
            "response_serializer": StringValue.SerializeToString,
        }
        return grpc.method_handlers_generic_handler(
            "test.Errors",
            {
                "Fail": grpc.unary_unary_rpc_method_handler(self.fail, **codec),
                "Hang": grpc.unary_unary_rpc_method_handler(self.hang, **codec),
                "StreamThenFail": grpc.unary_stream_rpc_method_handler(
                    self.stream_then_fail, **codec
                ),
                "StreamForever": grpc.unary_stream_rpc_method_handler(self.stream_forever, **codec),
            },
        )


class ErrorsStub:
    """A client stub of ``test.Errors`` for sync or aio channels, like a generated one."""

    def __init__(self, channel: Any) -> None:
        codec: dict[str, Any] = {
            "request_serializer": StringValue.SerializeToString,
            "response_deserializer": StringValue.FromString,
        }
        self.Fail = channel.unary_unary("/test.Errors/Fail", **codec)
        self.Hang = channel.unary_unary("/test.Errors/Hang", **codec)
        self.StreamThenFail = channel.unary_stream("/test.Errors/StreamThenFail", **codec)
        self.StreamForever = channel.unary_stream("/test.Errors/StreamForever", **codec)


def _code(request: StringValue) -> grpc.StatusCode:
    return grpc.StatusCode[request.value]


@dataclass(frozen=True)
class RunningServer:
    """A running test server."""

    address: str
    errors: ErrorsService


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    """Serve health and ``test.Errors`` on 127.0.0.1, on a port the system picks."""
    errors = ErrorsService()
    grpc_server = grpc.aio.server()
    health_servicer = health.aio.HealthServicer()
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    await health_servicer.set("test.Draining", health_pb2.HealthCheckResponse.NOT_SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, grpc_server)
    grpc_server.add_generic_rpc_handlers((errors.handler(),))
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    await grpc_server.start()
    try:
        yield RunningServer(f"127.0.0.1:{port}", errors)
    finally:
        await grpc_server.stop(grace=None)


@pytest.fixture
def errors_stub() -> type[ErrorsStub]:
    """The ``test.Errors`` stub class, to hand to a client's ``_stub``."""
    return ErrorsStub


@pytest.fixture
def refused_address() -> Iterator[str]:
    """An address where nothing listens: a bound port that never accepts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"
