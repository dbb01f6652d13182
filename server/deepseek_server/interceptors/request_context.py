"""Sets :data:`deepseek_server.context.current_call` for the duration of every call."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc.aio

from deepseek_server.context import CallContext, current_call
from deepseek_server.interceptors._around import AroundInterceptor
from deepseek_server.randomness import random_hex

REQUEST_ID_KEY = "x-request-id"
# Caller-chosen ids are echoed into logs and error details, so only tame ones are kept.
_ACCEPTABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestContextInterceptor(AroundInterceptor):
    """Outermost interceptor: names the call (method, peer, request id) for all that follows."""

    @asynccontextmanager
    async def around(
        self, method: str, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        call = CallContext(method=method, peer=context.peer(), request_id=_request_id(context))
        token = current_call.set(call)
        try:
            yield
        finally:
            current_call.reset(token)


def _request_id(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    for key, value in context.invocation_metadata() or ():
        if (
            key == REQUEST_ID_KEY
            and isinstance(value, str)
            and _ACCEPTABLE_REQUEST_ID.fullmatch(value)
        ):
            return value
    return random_hex(16)
