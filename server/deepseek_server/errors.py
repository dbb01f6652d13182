"""Domain exceptions: raised by the domain layer, mapped to gRPC status in one place.

Each exception carries what a caller needs to fix or retry the request: a stable ``reason``
(UPPER_SNAKE_CASE, the ErrorInfo reason), a human message, and structured facts (bad fields,
exceeded quotas, when to retry). The transport layer (``interceptors.errors``) turns them into a
``google.rpc.Status``; this module imports nothing of gRPC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One bad field of a request: its path (``spec.resource_spec.nodes``) and what is wrong."""

    field: str
    description: str


@dataclass(frozen=True, slots=True)
class QuotaViolation:
    """One exceeded quota: its subject (``user:alice/concurrent_jobs``) and the numbers."""

    subject: str
    description: str


class GatewayError(Exception):
    """Base of every error the gateway reports to callers on purpose."""

    default_reason = "ERROR"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
        retry_after_seconds: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata = dict(metadata or {})
        self.retry_after_seconds = retry_after_seconds


class InvalidArgument(GatewayError):
    """The request is malformed; ``violations`` names every bad field at once."""

    default_reason = "INVALID_ARGUMENT"

    def __init__(
        self,
        violations: Sequence[FieldViolation],
        message: str | None = None,
        *,
        reason: str | None = None,
    ) -> None:
        if not violations:
            raise ValueError("InvalidArgument needs at least one field violation")
        self.violations = tuple(violations)
        summary = "; ".join(f"{v.field}: {v.description}" for v in self.violations)
        super().__init__(message or f"invalid request: {summary}", reason=reason)


class _ResourceError(GatewayError):
    def __init__(
        self, resource_type: str, resource_name: str, message: str, *, reason: str | None = None
    ) -> None:
        self.resource_type = resource_type
        self.resource_name = resource_name
        super().__init__(message, reason=reason)


class NotFound(_ResourceError):
    """The resource does not exist, or belongs to someone else (the two are indistinguishable)."""

    default_reason = "NOT_FOUND"

    def __init__(self, resource_type: str, resource_name: str) -> None:
        super().__init__(resource_type, resource_name, f"{resource_type} {resource_name} not found")


class AlreadyExists(_ResourceError):
    """A resource with this name or request id exists and differs from the request."""

    default_reason = "ALREADY_EXISTS"

    def __init__(self, resource_type: str, resource_name: str, message: str | None = None) -> None:
        super().__init__(
            resource_type,
            resource_name,
            message or f"{resource_type} {resource_name} already exists",
        )


class FailedPrecondition(GatewayError):
    """The request is valid but the system is not in a state to perform it."""

    default_reason = "FAILED_PRECONDITION"


class Aborted(GatewayError):
    """A concurrency conflict; the whole read-modify-write can be retried."""

    default_reason = "ABORTED"


class OutOfRange(GatewayError):
    """An offset or position lies past the valid range (for example past a file's end)."""

    default_reason = "OUT_OF_RANGE"


class Unauthenticated(GatewayError):
    """No valid credentials; deliberately says nothing about which part was wrong."""

    default_reason = "UNAUTHENTICATED"


class PermissionDenied(GatewayError):
    """Authenticated, but the credentials lack the scope the method needs."""

    default_reason = "PERMISSION_DENIED"


class ResourceExhausted(GatewayError):
    """A quota or rate limit is exceeded; ``violations`` names each quota with its numbers."""

    default_reason = "RESOURCE_EXHAUSTED"

    def __init__(
        self,
        message: str,
        *,
        violations: Sequence[QuotaViolation] = (),
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
        retry_after_seconds: float | None = None,
    ) -> None:
        self.violations = tuple(violations)
        super().__init__(
            message, reason=reason, metadata=metadata, retry_after_seconds=retry_after_seconds
        )


class DataLoss(GatewayError):
    """Data failed an integrity check (a checksum did not match)."""

    default_reason = "DATA_LOSS"


class Unavailable(GatewayError):
    """The service cannot serve the call now (shutting down, a backend down); retry later."""

    default_reason = "UNAVAILABLE"
