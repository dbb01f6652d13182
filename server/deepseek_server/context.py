"""Facts about the call being served, visible to every layer without passing them around."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who called which method from where, set by the request-context interceptor."""

    method: str
    """Full gRPC method name, e.g. ``/deepseek.hpc.v1.JobService/CreateJob``."""
    peer: str
    """The caller's address as gRPC reports it, e.g. ``ipv4:127.0.0.1:53412``."""
    request_id: str
    """The caller's ``x-request-id`` metadata, or one made up for this call."""


current_call: ContextVar[CallContext | None] = ContextVar("current_call", default=None)
