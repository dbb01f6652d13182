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


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a call acts for: the user, the API client they called through, and its scopes."""

    user_id: str
    client_id: str = ""
    scopes: frozenset[str] = frozenset()


LOCAL_PRINCIPAL = Principal(user_id="local")
"""The caller when authentication is switched off (embedded single-user use)."""

current_principal: ContextVar[Principal | None] = ContextVar("current_principal", default=None)


def caller() -> Principal:
    """The principal of the current call; :data:`LOCAL_PRINCIPAL` without authentication."""
    return current_principal.get() or LOCAL_PRINCIPAL
