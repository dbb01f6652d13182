"""Reading and rewriting the call details interceptors receive, sync and ``grpc.aio``."""

from __future__ import annotations

import time
from dataclasses import dataclass

import grpc

AUTHORIZATION = "authorization"

SyncMetadata = tuple[tuple[str, str | bytes], ...]


def method_name(method: str | bytes) -> str:
    """The full method name, ``/package.Service/Method``; grpc.aio may give it as bytes."""
    return method.decode() if isinstance(method, bytes) else method


def bearer(token: str) -> str:
    """The ``authorization`` metadata value of an access token."""
    return f"Bearer {token}"


@dataclass(frozen=True, slots=True)
class Deadline:
    """A call's deadline, fixed when the call starts, shared by all of its attempts."""

    at: float | None

    @classmethod
    def after(cls, timeout: float | None) -> Deadline:
        """The deadline ``timeout`` seconds from now (none for a None timeout)."""
        return cls(None if timeout is None else time.monotonic() + timeout)

    def time_left(self) -> float | None:
        """Seconds until the deadline (never negative), None without a deadline."""
        return None if self.at is None else max(0.0, self.at - time.monotonic())


class SyncCallDetails(grpc.ClientCallDetails):
    """Call details handed down a sync interceptor chain (grpc has no public class)."""

    __slots__ = ("compression", "credentials", "metadata", "method", "timeout", "wait_for_ready")

    def __init__(
        self,
        details: grpc.ClientCallDetails,
        *,
        timeout: float | None,
        metadata: SyncMetadata | None,
    ) -> None:
        self.method = details.method
        self.timeout = timeout
        self.metadata = metadata
        self.credentials = details.credentials
        self.wait_for_ready = details.wait_for_ready
        self.compression = getattr(details, "compression", None)


def sync_details(
    details: grpc.ClientCallDetails,
    deadline: Deadline,
    token: str | None = None,
) -> grpc.ClientCallDetails:
    """``details`` with the time left to ``deadline`` and, given a token, its header."""
    metadata: SyncMetadata | None = details.metadata
    if token is not None:
        metadata = (
            *((key, value) for key, value in metadata or () if key != AUTHORIZATION),
            (AUTHORIZATION, bearer(token)),
        )
    return SyncCallDetails(details, timeout=_timeout(details.timeout, deadline), metadata=metadata)


def aio_details(
    details: grpc.aio.ClientCallDetails,
    deadline: Deadline,
    token: str | None = None,
) -> grpc.aio.ClientCallDetails:
    """The ``grpc.aio`` twin of :func:`sync_details`."""
    metadata = details.metadata
    if token is not None:
        metadata = grpc.aio.Metadata(
            *((key, value) for key, value in metadata or () if key != AUTHORIZATION),
            (AUTHORIZATION, bearer(token)),
        )
    return grpc.aio.ClientCallDetails(
        details.method,
        _timeout(details.timeout, deadline),
        metadata,
        details.credentials,
        details.wait_for_ready,
    )


def _timeout(timeout: float | None, deadline: Deadline) -> float | None:
    time_left = deadline.time_left()
    return timeout if time_left is None else time_left
