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


@dataclass(slots=True)
class AuditFacts:
    """What the audit record of the current call should say beyond what the interceptor sees.

    The audit interceptor makes one per call, outermost of those who fill it in: authentication
    notes the principal (or, for a refused call, the client id it claimed) and a servicer may
    note the resource it acted on. Mutable on purpose: a ContextVar set by an inner layer is not
    visible to an outer one once the inner one returns, a shared object is.
    """

    principal: Principal | None = None
    claimed_client_id: str = ""
    resource_id: str = ""


current_audit: ContextVar[AuditFacts | None] = ContextVar("current_audit", default=None)


def note_principal(principal: Principal | None, claimed_client_id: str = "") -> None:
    """Tell the audit record who the call acts for, or which client id a refused call claimed."""
    facts = current_audit.get()
    if facts is not None:
        facts.principal = principal
        facts.claimed_client_id = claimed_client_id or facts.claimed_client_id


def note_resource(resource_id: str) -> None:
    """Tell the audit record which resource the call acted on (a job id, an upload id, ...)."""
    facts = current_audit.get()
    if facts is not None:
        facts.resource_id = resource_id
