"""The exception tree and its construction from failed gRPC calls."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import TYPE_CHECKING

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

import deepseek_api as ds

if TYPE_CHECKING:
    from tests.unit.sdk.conftest import CallErrorFactory, StatusFactory, Trailers

EXPECTED_CLASS = {
    grpc.StatusCode.INVALID_ARGUMENT: ds.InvalidArgument,
    grpc.StatusCode.FAILED_PRECONDITION: ds.FailedPrecondition,
    grpc.StatusCode.OUT_OF_RANGE: ds.OutOfRange,
    grpc.StatusCode.UNAUTHENTICATED: ds.Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: ds.PermissionDenied,
    grpc.StatusCode.NOT_FOUND: ds.NotFound,
    grpc.StatusCode.ALREADY_EXISTS: ds.AlreadyExists,
    grpc.StatusCode.ABORTED: ds.Aborted,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ds.ResourceExhausted,
    grpc.StatusCode.CANCELLED: ds.Cancelled,
    grpc.StatusCode.UNKNOWN: ds.Unknown,
    grpc.StatusCode.INTERNAL: ds.Internal,
    grpc.StatusCode.DATA_LOSS: ds.DataLoss,
    grpc.StatusCode.UNIMPLEMENTED: ds.Unimplemented,
    grpc.StatusCode.UNAVAILABLE: ds.Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: ds.DeadlineExceeded,
}
SERVER_ERRORS = {"UNKNOWN", "INTERNAL", "DATA_LOSS", "UNIMPLEMENTED", "UNAVAILABLE"} | {
    "DEADLINE_EXCEEDED"
}
ERROR_CODES = [code for code in grpc.StatusCode if code is not grpc.StatusCode.OK]


def assert_every_detail(error: ds.APIException) -> None:
    """The fields of an error made from the conftest's full status."""
    assert error.message == "job job-123 not found"
    assert error.reason == "JOB_NOT_FOUND"
    assert error.domain == "hpc.deepseek.com"
    assert error.metadata == {"request_id": "req-7", "job_id": "job-123"}
    assert error.request_id == "req-7"
    assert error.field_violations == [
        ("resource_spec.nodes", "must be 1-1024"),
        ("timeout", "must be positive"),
    ]
    assert error.field_violations[0].field == "resource_spec.nodes"
    assert error.quota_violations == [("user:researcher_007", "50 concurrent jobs")]
    assert error.quota_violations[0].subject == "user:researcher_007"
    assert error.retry_delay == 1.5
    assert error.resource_info == error_details_pb2.ResourceInfo(
        resource_type="deepseek.hpc.v1.Job",
        resource_name="jobs/job-123",
        owner="user:researcher_007",
        description="the job to cancel",
    )
    assert [type(detail) for detail in error.details] == [
        error_details_pb2.ErrorInfo,
        error_details_pb2.BadRequest,
        error_details_pb2.QuotaFailure,
        error_details_pb2.RetryInfo,
        error_details_pb2.ResourceInfo,
    ]


def test_every_error_code_has_its_own_class() -> None:
    assert set(EXPECTED_CLASS) == set(ERROR_CODES)
    assert len(set(EXPECTED_CLASS.values())) == len(ERROR_CODES)
    for code, cls in EXPECTED_CLASS.items():
        assert cls.grpc_status_code is code


@pytest.mark.parametrize("code", ERROR_CODES, ids=lambda code: code.name)
def test_sync_call_error_becomes_its_class_with_every_detail(
    code: grpc.StatusCode,
    make_status: StatusFactory,
    make_call_error: CallErrorFactory,
    status_trailers: Callable[[status_pb2.Status], Trailers],
) -> None:
    status = make_status(code)
    rpc_error = make_call_error(code, status.message, status_trailers(status))

    error = ds.from_rpc_error(rpc_error)

    assert type(error) is EXPECTED_CLASS[code]
    assert error.code == code.name
    assert error.grpc_status_code is code
    assert str(error) == f"{code.name}: job job-123 not found"
    assert error.__cause__ is rpc_error
    assert isinstance(error, ds.ServerError if code.name in SERVER_ERRORS else ds.ClientError)
    assert_every_detail(error)


@pytest.mark.parametrize("code", ERROR_CODES, ids=lambda code: code.name)
def test_aio_call_error_becomes_its_class_with_every_detail(
    code: grpc.StatusCode, make_status: StatusFactory
) -> None:
    status = make_status(code)
    rpc_error = grpc.aio.AioRpcError(
        code,
        initial_metadata=grpc.aio.Metadata(),
        trailing_metadata=grpc.aio.Metadata(
            ("grpc-status-details-bin", status.SerializeToString())
        ),
        details=status.message,
    )

    error = ds.from_rpc_error(rpc_error)

    assert type(error) is EXPECTED_CLASS[code]
    assert error.__cause__ is rpc_error
    assert_every_detail(error)


@pytest.mark.parametrize("trailers", [None, (), (("grpc-status-details-bin", b"\xff\xfe"),)])
def test_missing_or_corrupt_status_leaves_code_and_message(
    trailers: Trailers, make_call_error: CallErrorFactory
) -> None:
    error = ds.from_rpc_error(make_call_error(grpc.StatusCode.UNAVAILABLE, "no route", trailers))

    assert type(error) is ds.Unavailable
    assert str(error) == "UNAVAILABLE: no route"
    assert error.details == ()
    assert error.reason is None
    assert error.domain is None
    assert error.metadata == {}
    assert error.request_id is None
    assert error.field_violations == []
    assert error.quota_violations == []
    assert error.retry_delay is None
    assert error.resource_info is None


def test_transport_code_and_message_win_over_a_disagreeing_status(
    make_status: StatusFactory,
    make_call_error: CallErrorFactory,
    status_trailers: Callable[[status_pb2.Status], Trailers],
) -> None:
    status = make_status(grpc.StatusCode.NOT_FOUND)
    rpc_error = make_call_error(
        grpc.StatusCode.UNAVAILABLE, "upstream reset", status_trailers(status)
    )

    error = ds.from_rpc_error(rpc_error)

    assert type(error) is ds.Unavailable
    assert error.message == "upstream reset"
    assert error.reason == "JOB_NOT_FOUND"


def test_status_message_is_used_when_the_call_has_none(
    make_status: StatusFactory,
    make_call_error: CallErrorFactory,
    status_trailers: Callable[[status_pb2.Status], Trailers],
) -> None:
    status = make_status(grpc.StatusCode.NOT_FOUND)
    error = ds.from_rpc_error(
        make_call_error(grpc.StatusCode.NOT_FOUND, "", status_trailers(status))
    )

    assert str(error) == "NOT_FOUND: job job-123 not found"


def test_unknown_detail_type_stays_packed(make_call_error: CallErrorFactory) -> None:
    foreign = any_pb2.Any(type_url="type.googleapis.com/acme.v1.Unheard", value=b"\x08\x01")
    status = status_pb2.Status(
        code=grpc.StatusCode.INTERNAL.value[0], message="x", details=[foreign]
    )
    trailers = (("grpc-status-details-bin", status.SerializeToString()),)

    error = ds.from_rpc_error(make_call_error(grpc.StatusCode.INTERNAL, "x", trailers))

    assert error.details == (foreign,)


def test_request_info_is_preferred_for_the_request_id(make_call_error: CallErrorFactory) -> None:
    status = status_pb2.Status(code=grpc.StatusCode.INTERNAL.value[0], message="boom")
    status.details.add().Pack(error_details_pb2.RequestInfo(request_id="req-from-info"))
    status.details.add().Pack(error_details_pb2.ErrorInfo(metadata={"request_id": "req-meta"}))
    trailers = (("grpc-status-details-bin", status.SerializeToString()),)

    error = ds.from_rpc_error(make_call_error(grpc.StatusCode.INTERNAL, "boom", trailers))

    assert error.request_id == "req-from-info"


def test_a_bare_rpc_error_is_unknown() -> None:
    rpc_error = grpc.RpcError("interceptor gave up")

    error = ds.from_rpc_error(rpc_error)

    assert type(error) is ds.Unknown
    assert str(error) == "UNKNOWN: interceptor gave up"


def test_errors_made_directly_read_well() -> None:
    assert str(ds.NotFound("job job-123 not found")) == "NOT_FOUND: job job-123 not found"
    assert str(ds.Internal()) == "INTERNAL"
    assert ds.APIException("x").code == "UNKNOWN"
    assert repr(ds.NotFound("gone")) == "NotFound('gone')"


def test_an_error_survives_pickling(make_status: StatusFactory) -> None:
    status = make_status(grpc.StatusCode.NOT_FOUND)
    details = []
    for packed in status.details:
        message = error_details_pb2.ErrorInfo()
        if packed.Unpack(message):
            details.append(message)
    error = ds.NotFound("job job-123 not found", details=details)

    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is ds.NotFound
    assert str(copy) == "NOT_FOUND: job job-123 not found"
    assert copy.reason == "JOB_NOT_FOUND"
