"""One way to put code around an RPC of any of the four call shapes.

An interceptor here supplies an async context manager that encloses the whole call: the handler's
body for unary responses, and the full iteration for streamed responses, so that an exception
raised mid-stream passes through the same ``except`` as one raised by a unary handler.
"""

from __future__ import annotations

import abc
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeAlias

import grpc
import grpc.aio

Behavior = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Any]
# The stubs make RpcMethodHandler generic; at run time it is not subscriptable.
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"


def method_name(details: grpc.HandlerCallDetails) -> str:
    """The full method name; grpc.aio may hand it over as bytes."""
    method: str | bytes = details.method
    return method.decode() if isinstance(method, bytes) else method


class WrappingInterceptor(grpc.aio.ServerInterceptor, abc.ABC):
    """Replaces each method's handler by the one :meth:`wrap` makes, cached per method."""

    def __init__(self) -> None:
        self._wrapped: dict[str, Handler] = {}

    @abc.abstractmethod
    def wrap(self, handler: Handler, method: str) -> Handler | None:
        """The handler to use for ``method`` instead of ``handler``; None to leave it as is."""

    def forget_wrapped(self) -> None:
        """Wrap every method afresh from the next call on."""
        self._wrapped.clear()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        method = method_name(handler_call_details)
        wrapped = self._wrapped.get(method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(handler_call_details)
        if handler is None:  # unknown method: gRPC answers UNIMPLEMENTED itself
            return handler
        wrapped = self.wrap(handler, method)
        if wrapped is None:
            return handler
        self._wrapped[method] = wrapped
        return wrapped


class AroundInterceptor(WrappingInterceptor):
    """Wraps every handler's behaviour in :meth:`around`."""

    @abc.abstractmethod
    def around(
        self, method: str, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AbstractAsyncContextManager[None]:
        """Return the context manager that encloses one call of ``method``."""

    def wrap(self, handler: Handler, method: str) -> Handler:
        return _wrap(handler, method, self.around)


def _wrap(
    handler: Handler,
    method: str,
    around: Callable[[str, grpc.aio.ServicerContext[Any, Any]], AbstractAsyncContextManager[None]],
) -> Handler:
    shape = call_shape(handler)
    behavior: Behavior = getattr(handler, shape)

    if inspect.isasyncgenfunction(behavior):

        async def streamed(
            request: Any, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            async with around(method, context):
                async for response in behavior(request, context):
                    yield response

        return handler._replace(**{shape: streamed})  # type: ignore[attr-defined, no-any-return]

    async def called(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        async with around(method, context):
            result = behavior(request, context)
            return await result if inspect.isawaitable(result) else result

    return handler._replace(**{shape: called})  # type: ignore[attr-defined, no-any-return]


def call_shape(handler: Handler) -> str:
    """The name of the handler's behaviour attribute: ``unary_unary``, ``stream_stream``..."""
    if handler.request_streaming:
        return "stream_stream" if handler.response_streaming else "stream_unary"
    return "unary_stream" if handler.response_streaming else "unary_unary"
