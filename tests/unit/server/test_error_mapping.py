"""Domain exceptions become google.rpc.Status with the right code and details."""

from __future__ import annotations

from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2

from deepseek_server import errors
from deepseek_server.context import CallContext, current_call
from deepseek_server.interceptors import status_from_error


def unpack(details: list[any_pb2.Any]) -> dict[str, Message]:
    found: dict[str, Message] = {}
    for packed in details:
        for kind in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.BadRequest,
            error_details_pb2.QuotaFailure,
            error_details_pb2.RetryInfo,
            error_details_pb2.ResourceInfo,
        ):
            if packed.TypeName() == kind.DESCRIPTOR.full_name:
                message = kind()
                packed.Unpack(message)
                found[kind.__name__] = message
    return found


def test_invalid_argument_lists_every_field_violation() -> None:
    exc = errors.InvalidArgument(
        [
            errors.FieldViolation("spec.resource_spec.nodes", "must be between 1 and 1024"),
            errors.FieldViolation("spec.command", "must not be empty"),
        ]
    )

    status = status_from_error(exc)
    details = unpack(list(status.details))

    assert status.code == code_pb2.INVALID_ARGUMENT
    assert "spec.command: must not be empty" in status.message
    info = details["ErrorInfo"]
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert (info.reason, info.domain) == ("INVALID_ARGUMENT", "hpc.deepseek.com")
    bad = details["BadRequest"]
    assert isinstance(bad, error_details_pb2.BadRequest)
    assert [(v.field, v.description) for v in bad.field_violations] == [
        ("spec.resource_spec.nodes", "must be between 1 and 1024"),
        ("spec.command", "must not be empty"),
    ]


def test_quota_exceeded_carries_quota_failure_and_retry_info() -> None:
    exc = errors.ResourceExhausted(
        "concurrent job quota reached",
        reason="QUOTA_EXCEEDED",
        violations=[errors.QuotaViolation("user:alice/concurrent_jobs", "limit 50, in use 50")],
        retry_after_seconds=2.5,
    )

    status = status_from_error(exc)
    details = unpack(list(status.details))

    assert status.code == code_pb2.RESOURCE_EXHAUSTED
    quota = details["QuotaFailure"]
    assert isinstance(quota, error_details_pb2.QuotaFailure)
    assert quota.violations[0].subject == "user:alice/concurrent_jobs"
    retry = details["RetryInfo"]
    assert isinstance(retry, error_details_pb2.RetryInfo)
    assert (retry.retry_delay.seconds, retry.retry_delay.nanos) == (2, 500_000_000)


def test_not_found_names_the_resource_and_the_request_id() -> None:
    token = current_call.set(CallContext("/x.Y/Z", "ipv4:127.0.0.1:1", "req-42"))
    try:
        status = status_from_error(errors.NotFound("job", "job-123"))
    finally:
        current_call.reset(token)
    details = unpack(list(status.details))

    assert status.code == code_pb2.NOT_FOUND
    assert status.message == "job job-123 not found"
    resource = details["ResourceInfo"]
    assert isinstance(resource, error_details_pb2.ResourceInfo)
    assert (resource.resource_type, resource.resource_name) == ("job", "job-123")
    info = details["ErrorInfo"]
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert info.metadata["request_id"] == "req-42"


def test_each_domain_error_has_its_own_code() -> None:
    cases = {
        errors.AlreadyExists("job", "x"): code_pb2.ALREADY_EXISTS,
        errors.FailedPrecondition("no"): code_pb2.FAILED_PRECONDITION,
        errors.Aborted("again"): code_pb2.ABORTED,
        errors.OutOfRange("far"): code_pb2.OUT_OF_RANGE,
        errors.Unauthenticated("who"): code_pb2.UNAUTHENTICATED,
        errors.PermissionDenied("no"): code_pb2.PERMISSION_DENIED,
        errors.DataLoss("crc"): code_pb2.DATA_LOSS,
        errors.Unavailable("later"): code_pb2.UNAVAILABLE,
    }

    assert {type(e).__name__: status_from_error(e).code for e in cases} == {
        type(e).__name__: code for e, code in cases.items()
    }
