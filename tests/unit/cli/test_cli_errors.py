"""Exit codes and error lines of the command line, from the SDK's exceptions."""

from __future__ import annotations

import pytest
from google.rpc import error_details_pb2

import deepseek_api as ds
from deepseek_api import cli
from deepseek_api.cli import ExitCode
from deepseek_api.cli._exit import Situation, exit_code_of, from_api_error

HERE = Situation("gw.example:443", profile="prod", spec_file="job.yaml")


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ds.NotFound, 3),
        (ds.Unauthenticated, 4),
        (ds.PermissionDenied, 4),
        (ds.InvalidArgument, 5),
        (ds.FailedPrecondition, 5),
        (ds.OutOfRange, 5),
        (ds.AlreadyExists, 5),
        (ds.ResourceExhausted, 6),
        (ds.Unavailable, 7),
        (ds.DeadlineExceeded, 7),
        (ds.Internal, 1),
        (ds.Unknown, 1),
        (ds.Aborted, 1),
    ],
)
def test_each_sdk_exception_has_its_documented_exit_code(
    error: type[ds.APIException], code: int
) -> None:
    assert exit_code_of(error("x")) == code


def test_every_field_violation_gets_a_line_naming_the_file_to_fix() -> None:
    bad = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(
                field="spec.resource_spec.nodes", description="must be between 1 and 1024"
            ),
            error_details_pb2.BadRequest.FieldViolation(field="page_size", description="too big"),
        ]
    )

    failure = from_api_error(ds.InvalidArgument("invalid job spec", details=[bad]), HERE)

    assert failure.code == ExitCode.INVALID
    assert failure.message == "INVALID_ARGUMENT: invalid job spec (2 problem(s)):"
    assert failure.details == [
        "spec.resource_spec.nodes: must be between 1 and 1024 — fix it in job.yaml",
        "page_size: too big",
    ]


def test_refused_credentials_say_to_log_in_again_with_the_profile() -> None:
    failure = from_api_error(ds.Unauthenticated("token expired"), HERE)

    assert failure.code == ExitCode.NOT_ALLOWED
    assert failure.message == (
        "UNAUTHENTICATED: token expired — the credentials of profile 'prod' were refused; "
        "run `deepseek login --profile prod` again"
    )


def test_quota_violations_are_listed() -> None:
    quota = error_details_pb2.QuotaFailure(
        violations=[
            error_details_pb2.QuotaFailure.Violation(subject="gpus", description="8 of 8 in use")
        ]
    )

    failure = from_api_error(ds.ResourceExhausted("quota exceeded", details=[quota]), HERE)

    assert failure.code == ExitCode.QUOTA
    assert failure.message == "RESOURCE_EXHAUSTED: quota exceeded — see `deepseek quota`"
    assert failure.details == ["gpus: 8 of 8 in use"]


def test_the_cli_exports_only_main_and_its_exit_codes() -> None:
    assert cli.__all__ == ["ExitCode", "main"]
    assert {code.name: int(code) for code in ExitCode} == {
        "OK": 0,
        "ERROR": 1,
        "USAGE": 2,
        "NOT_FOUND": 3,
        "NOT_ALLOWED": 4,
        "INVALID": 5,
        "QUOTA": 6,
        "UNAVAILABLE": 7,
        "JOB_FAILED": 8,
        "INTERRUPTED": 130,
    }
