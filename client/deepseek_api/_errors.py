"""The exception tree: one class per gRPC status code, grouped as client and server errors.

Modelled on google-api-core's ``exceptions``. The structured fields come from the
``google.rpc.Status`` details the server attaches (AIP-193): ``ErrorInfo``, ``BadRequest``,
``QuotaFailure``, ``RetryInfo``, ``ResourceInfo`` and ``RequestInfo``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import ClassVar, NamedTuple, TypeVar

import grpc
from google.protobuf.message import Message
from google.rpc import error_details_pb2

_M = TypeVar("_M", bound=Message)


class FieldViolation(NamedTuple):
    """One invalid field of a request (from ``google.rpc.BadRequest``)."""

    field: str
    description: str


class QuotaViolation(NamedTuple):
    """One exceeded quota (from ``google.rpc.QuotaFailure``)."""

    subject: str
    description: str


class APIException(Exception):
    """Base of every error a DeepSeek API call raises.

    Catch this to handle any failed call; ``str(e)`` reads ``"NOT_FOUND: job job-123 not
    found"``. The ``grpc.RpcError`` it was made from is its ``__cause__``.

    Attributes:
        grpc_status_code: The gRPC status code this class stands for.
        message: The server's human-readable message.
        details: Every detail message of the ``google.rpc.Status``, unpacked (a detail of a
            type this process does not know stays a ``google.protobuf.Any``).
    """

    grpc_status_code: ClassVar[grpc.StatusCode] = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str = "", *, details: Iterable[Message] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details: tuple[Message, ...] = tuple(details)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.message else self.code

    @property
    def code(self) -> str:
        """The gRPC status code's name, e.g. ``"NOT_FOUND"``."""
        return self.grpc_status_code.name

    @property
    def reason(self) -> str | None:
        """The ``ErrorInfo`` reason, an UPPER_SNAKE_CASE constant such as ``JOB_NOT_FOUND``."""
        info = self._first(error_details_pb2.ErrorInfo)
        return info.reason if info else None

    @property
    def domain(self) -> str | None:
        """The ``ErrorInfo`` domain, ``"hpc.deepseek.com"`` for errors of the platform."""
        info = self._first(error_details_pb2.ErrorInfo)
        return info.domain if info else None

    @property
    def metadata(self) -> Mapping[str, str]:
        """The ``ErrorInfo`` metadata (empty without an ``ErrorInfo``)."""
        info = self._first(error_details_pb2.ErrorInfo)
        return dict(info.metadata) if info else {}

    @property
    def request_id(self) -> str | None:
        """The id of the failed request, from ``RequestInfo`` or ErrorInfo's ``request_id``."""
        request_info = self._first(error_details_pb2.RequestInfo)
        if request_info and request_info.request_id:
            return request_info.request_id
        return self.metadata.get("request_id")

    @property
    def field_violations(self) -> list[FieldViolation]:
        """The invalid fields of the request (from every ``BadRequest`` detail)."""
        return [
            FieldViolation(violation.field, violation.description)
            for bad_request in self._all(error_details_pb2.BadRequest)
            for violation in bad_request.field_violations
        ]

    @property
    def quota_violations(self) -> list[QuotaViolation]:
        """The exceeded quotas (from every ``QuotaFailure`` detail)."""
        return [
            QuotaViolation(violation.subject, violation.description)
            for failure in self._all(error_details_pb2.QuotaFailure)
            for violation in failure.violations
        ]

    @property
    def retry_delay(self) -> float | None:
        """Seconds the server asks the client to wait before retrying (``RetryInfo``)."""
        info = self._first(error_details_pb2.RetryInfo)
        if info is None or not info.HasField("retry_delay"):
            return None
        return info.retry_delay.seconds + info.retry_delay.nanos / 1e9

    @property
    def resource_info(self) -> error_details_pb2.ResourceInfo | None:
        """The resource the error is about (``ResourceInfo``), if the server named one."""
        return self._first(error_details_pb2.ResourceInfo)

    def _all(self, kind: type[_M]) -> list[_M]:
        return [detail for detail in self.details if isinstance(detail, kind)]

    def _first(self, kind: type[_M]) -> _M | None:
        return next((detail for detail in self.details if isinstance(detail, kind)), None)


class ClientError(APIException):
    """The request cannot succeed as sent (HTTP 4xx); fix it rather than retry it."""


class ServerError(APIException):
    """The server or the network failed (HTTP 5xx); the call may succeed if retried."""


class InvalidArgument(ClientError):
    """The request is malformed; ``field_violations`` names the fields (HTTP 400)."""

    grpc_status_code = grpc.StatusCode.INVALID_ARGUMENT


class FailedPrecondition(ClientError):
    """The system is not in a state the call needs, e.g. a job not yet created (HTTP 400)."""

    grpc_status_code = grpc.StatusCode.FAILED_PRECONDITION


class OutOfRange(ClientError):
    """A value is past the valid range, e.g. reading beyond the end of a file (HTTP 400)."""

    grpc_status_code = grpc.StatusCode.OUT_OF_RANGE


class Unauthenticated(ClientError):
    """The call carries no valid credentials (HTTP 401)."""

    grpc_status_code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(ClientError):
    """The caller may not do this, e.g. a missing scope (HTTP 403)."""

    grpc_status_code = grpc.StatusCode.PERMISSION_DENIED


class NotFound(ClientError):
    """The resource does not exist, or belongs to someone else (HTTP 404)."""

    grpc_status_code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ClientError):
    """The resource the call would create exists already (HTTP 409)."""

    grpc_status_code = grpc.StatusCode.ALREADY_EXISTS


class Aborted(ClientError):
    """The call lost a race with a concurrent change; retry the whole sequence (HTTP 409)."""

    grpc_status_code = grpc.StatusCode.ABORTED


class ResourceExhausted(ClientError):
    """A quota or rate limit is exhausted; see ``quota_violations``, ``retry_delay`` (HTTP 429)."""

    grpc_status_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Cancelled(ClientError):
    """The call was cancelled, usually by the caller (HTTP 499)."""

    grpc_status_code = grpc.StatusCode.CANCELLED


class Unknown(ServerError):
    """An error of no known kind, or one the server did not classify (HTTP 500)."""

    grpc_status_code = grpc.StatusCode.UNKNOWN


class Internal(ServerError):
    """The server broke an invariant of its own (HTTP 500)."""

    grpc_status_code = grpc.StatusCode.INTERNAL


class DataLoss(ServerError):
    """Data was lost or corrupted beyond recovery (HTTP 500)."""

    grpc_status_code = grpc.StatusCode.DATA_LOSS


class Unimplemented(ServerError):
    """The server does not implement this method (HTTP 501)."""

    grpc_status_code = grpc.StatusCode.UNIMPLEMENTED


class Unavailable(ServerError):
    """The service cannot be reached or is overloaded; retry with backoff (HTTP 503)."""

    grpc_status_code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(ServerError):
    """The call did not finish within its timeout (HTTP 504)."""

    grpc_status_code = grpc.StatusCode.DEADLINE_EXCEEDED


_CLASS_BY_CODE: dict[grpc.StatusCode, type[APIException]] = {
    cls.grpc_status_code: cls
    for cls in (
        InvalidArgument,
        FailedPrecondition,
        OutOfRange,
        Unauthenticated,
        PermissionDenied,
        NotFound,
        AlreadyExists,
        Aborted,
        ResourceExhausted,
        Cancelled,
        Unknown,
        Internal,
        DataLoss,
        Unimplemented,
        Unavailable,
        DeadlineExceeded,
    )
}


def exception_class_for(code: grpc.StatusCode) -> type[APIException]:
    """The exception class of a gRPC status code (``Unknown`` for OK, which is no error)."""
    return _CLASS_BY_CODE.get(code, Unknown)
