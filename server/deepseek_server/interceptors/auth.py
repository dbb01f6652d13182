"""Authentication and scope checks: who is calling, and may they call this method.

Reads ``authorization: Bearer <token>``, verifies the token (cached until it expires), checks
the method's scope from :data:`deepseek_server.identity.METHOD_SCOPES`, and sets
:data:`deepseek_server.context.current_principal` for the rest of the call. Health, reflection
and AuthService need no token.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager, nullcontext
from contextvars import Token
from typing import Any

import grpc.aio

from deepseek_server.context import Principal, current_principal, note_principal
from deepseek_server.errors import PermissionDenied, Unauthenticated
from deepseek_server.identity import TokenVerifier, required_scope
from deepseek_server.interceptors._around import AroundInterceptor

AUTHORIZATION_KEY = "authorization"
_BEARER = "bearer "


class AuthInterceptor(AroundInterceptor):
    """Refuses calls without a valid token (UNAUTHENTICATED) or its scope (PERMISSION_DENIED)."""

    def __init__(self, verifier: TokenVerifier) -> None:
        super().__init__()
        self._verifier = verifier

    def around(
        self, method: str, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AbstractAsyncContextManager[None]:
        # Plain objects rather than @asynccontextmanager: this runs on every call, and the
        # generator machinery would cost more than the cached token check itself.
        scope = required_scope(method)
        if scope is None:
            return _PUBLIC
        principal = self._verifier.verify(bearer_token(context.invocation_metadata()), time.time())
        note_principal(principal)  # for the audit record, refused for scope or not
        if scope not in principal.scopes:
            raise PermissionDenied(
                f"this call needs the scope {scope!r}, which the access token does not hold",
                reason="INSUFFICIENT_SCOPE",
                metadata={"required_scope": scope},
            )
        return _ActingAs(principal)


class _ActingAs:
    """Sets :data:`current_principal` for the call and resets it after."""

    __slots__ = ("_principal", "_reset")

    def __init__(self, principal: Principal) -> None:
        self._principal = principal
        self._reset: Token[Principal | None] | None = None

    async def __aenter__(self) -> None:
        self._reset = current_principal.set(self._principal)

    async def __aexit__(self, *exc_info: object) -> None:
        if self._reset is not None:
            current_principal.reset(self._reset)


_PUBLIC: AbstractAsyncContextManager[None] = nullcontext()


def bearer_token(metadata: Iterable[tuple[str, str | bytes]] | None) -> str:
    """The token of the ``authorization: Bearer`` metadata; raises :class:`Unauthenticated`."""
    for key, value in metadata or ():
        if key == AUTHORIZATION_KEY and isinstance(value, str):
            if value[: len(_BEARER)].lower() == _BEARER and value[len(_BEARER) :].strip():
                return value[len(_BEARER) :].strip()
            break
    raise Unauthenticated(
        "this call needs an access token as 'authorization: Bearer <token>' metadata "
        "(AuthService.IssueToken issues one)",
        reason="MISSING_CREDENTIALS",
    )
