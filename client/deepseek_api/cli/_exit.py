"""Exit codes, and turning failures into lines that say what to change."""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import deepseek_api as ds


class ExitCode(enum.IntEnum):
    """What ``deepseek`` exits with; scripts may rely on these numbers.

    ======  ==========================================================================
    0       success
    1       any other error (the gateway failed, an unexpected problem)
    2       usage: the command line is wrong (unknown option, missing profile, no file)
    3       not found: no such job, file or profile on the gateway (NOT_FOUND)
    4       not allowed: bad or expired credentials, or a missing scope
            (UNAUTHENTICATED, PERMISSION_DENIED)
    5       invalid: the request or job spec is wrong, or the job is in the wrong state
            (INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE, ALREADY_EXISTS)
    6       a quota or rate limit is exhausted (RESOURCE_EXHAUSTED)
    7       the gateway cannot be reached or did not answer in time
            (UNAVAILABLE, DEADLINE_EXCEEDED)
    8       the job ran but did not complete: it FAILED or was CANCELLED
            (``submit --wait``)
    130     interrupted (Ctrl-C)
    ======  ==========================================================================
    """

    OK = 0
    ERROR = 1
    USAGE = 2
    NOT_FOUND = 3
    NOT_ALLOWED = 4
    INVALID = 5
    QUOTA = 6
    UNAVAILABLE = 7
    JOB_FAILED = 8
    INTERRUPTED = 130


_EXIT_BY_CLASS: tuple[tuple[type[ds.APIException], ExitCode], ...] = (
    (ds.NotFound, ExitCode.NOT_FOUND),
    (ds.Unauthenticated, ExitCode.NOT_ALLOWED),
    (ds.PermissionDenied, ExitCode.NOT_ALLOWED),
    (ds.InvalidArgument, ExitCode.INVALID),
    (ds.FailedPrecondition, ExitCode.INVALID),
    (ds.OutOfRange, ExitCode.INVALID),
    (ds.AlreadyExists, ExitCode.INVALID),
    (ds.ResourceExhausted, ExitCode.QUOTA),
    (ds.Unavailable, ExitCode.UNAVAILABLE),
    (ds.DeadlineExceeded, ExitCode.UNAVAILABLE),
)


class CliError(Exception):
    """A failure to report: the first line says what is wrong, ``details`` add one line each.

    Attributes:
        message: What is wrong and, where it helps, what to change.
        code: The exit code.
        details: Further lines (one per field violation, quota, ...).
    """

    def __init__(
        self, message: str, code: ExitCode = ExitCode.ERROR, details: Sequence[str] = ()
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = list(details)


@dataclass(frozen=True)
class Situation:
    """What the command was doing, so that an error can say what to change.

    Attributes:
        endpoint: The gateway address in use.
        profile: The profile whose credentials were used; None without credentials.
        spec_file: The job spec file the request came from, if any.
    """

    endpoint: str
    profile: str | None = None
    spec_file: str | None = None


def exit_code_of(error: ds.APIException) -> ExitCode:
    """The exit code documented for an SDK exception."""
    for cls, code in _EXIT_BY_CLASS:
        if isinstance(error, cls):
            return code
    return ExitCode.ERROR


def from_api_error(error: ds.APIException, situation: Situation) -> CliError:
    """A :class:`CliError` naming every field or quota violation and what to do about it."""
    details = [_violation_line(v, situation) for v in error.field_violations]
    details += [f"{v.subject}: {v.description}" for v in error.quota_violations]
    return CliError(
        f"{error}{_advice(error, situation)}", exit_code_of(error), [d for d in details if d]
    )


@contextlib.contextmanager
def reporting(situation: Situation) -> Iterator[None]:
    """Turn an SDK exception raised inside into a :class:`CliError` for ``situation``."""
    try:
        yield
    except ds.APIException as err:
        raise from_api_error(err, situation) from err


def _violation_line(violation: ds.FieldViolation, situation: Situation) -> str:
    line = f"{violation.field}: {violation.description}"
    if situation.spec_file and violation.field.startswith("spec."):
        line += f" — fix it in {situation.spec_file}"
    return line


def _advice(error: ds.APIException, situation: Situation) -> str:
    if isinstance(error, ds.Unauthenticated):
        if situation.profile is None:
            return " — log in with `deepseek login --endpoint URL --client-id ID`"
        return (
            f" — the credentials of profile {situation.profile!r} were refused; "
            f"run `deepseek login --profile {situation.profile}` again"
        )
    if isinstance(error, ds.PermissionDenied):
        return " — your API client lacks the scope this needs; ask an administrator to grant it"
    if isinstance(error, ds.Unavailable):
        return (
            f" — cannot reach the gateway at {situation.endpoint}; check --endpoint, "
            "the network, or whether the gateway is running"
        )
    if isinstance(error, ds.DeadlineExceeded):
        return " — the gateway did not answer in time; retry, or raise --timeout"
    if isinstance(error, ds.ResourceExhausted):
        retry = error.retry_delay
        if retry is not None:
            return f" — retry in {retry:.0f}s"
        return " — see `deepseek quota`"
    if isinstance(error, ds.InvalidArgument) and error.field_violations:
        return f" ({len(error.field_violations)} problem(s)):"
    return ""
