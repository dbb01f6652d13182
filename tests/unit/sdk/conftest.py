"""Fixtures of the SDK's unit tests: rich statuses and failed calls, without sockets."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

DETAILS_KEY = "grpc-status-details-bin"

Trailers = Sequence[tuple[str, str | bytes]] | None
StatusFactory = Callable[[grpc.StatusCode], status_pb2.Status]
CallErrorFactory = Callable[[grpc.StatusCode, str, Trailers], grpc.RpcError]


class _FailedCall(grpc.RpcError, grpc.Call):
    """A failed synchronous call, presented as grpc's _InactiveRpcError presents one."""

    def __init__(self, code: grpc.StatusCode, details: str, trailers: Trailers) -> None:
        self._code = code
        self._details = details
        self._trailers = trailers

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> Trailers:  # type: ignore[override]
        return self._trailers

    def initial_metadata(self) -> Trailers:  # type: ignore[override]
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> float:
        return 0.0

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: object) -> bool:
        return False


def _packed(*messages: Message) -> list[any_pb2.Any]:
    result = []
    for message in messages:
        detail = any_pb2.Any()
        detail.Pack(message)
        result.append(detail)
    return result


def _full_status(code: grpc.StatusCode) -> status_pb2.Status:
    return status_pb2.Status(
        code=code.value[0],
        message="job job-123 not found",
        details=_packed(
            error_details_pb2.ErrorInfo(
                reason="JOB_NOT_FOUND",
                domain="hpc.deepseek.com",
                metadata={"request_id": "req-7", "job_id": "job-123"},
            ),
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field="resource_spec.nodes", description="must be 1-1024"
                    ),
                    error_details_pb2.BadRequest.FieldViolation(
                        field="timeout", description="must be positive"
                    ),
                ]
            ),
            error_details_pb2.QuotaFailure(
                violations=[
                    error_details_pb2.QuotaFailure.Violation(
                        subject="user:researcher_007", description="50 concurrent jobs"
                    )
                ]
            ),
            error_details_pb2.RetryInfo(
                retry_delay=duration_pb2.Duration(seconds=1, nanos=500_000_000)
            ),
            error_details_pb2.ResourceInfo(
                resource_type="deepseek.hpc.v1.Job",
                resource_name="jobs/job-123",
                owner="user:researcher_007",
                description="the job to cancel",
            ),
        ),
    )


@pytest.fixture
def make_status() -> StatusFactory:
    """Builds a Status of a given code carrying every detail type the server sends."""
    return _full_status


@pytest.fixture
def make_call_error() -> CallErrorFactory:
    """Builds a failed sync call from its code, message and trailing metadata."""
    return _FailedCall


@pytest.fixture
def status_trailers() -> Callable[[status_pb2.Status], Trailers]:
    """The trailing metadata a server sends with a Status (plus an unrelated entry)."""

    def trailers(status: status_pb2.Status) -> Trailers:
        return (("x-unrelated", "value"), (DETAILS_KEY, status.SerializeToString()))

    return trailers
