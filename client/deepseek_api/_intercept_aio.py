"""The async client's interceptors: the ``grpc.aio`` twins of :mod:`._intercept_sync`.

Installed on the ``grpc.aio`` channel in the same order, outermost first: authentication,
retries, rate limiting. Nothing here blocks the event loop: waits are ``asyncio.sleep``
and a token fetch is a call on another channel.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio

from deepseek_api._call_details import Deadline, aio_details, method_name
from deepseek_api._methods import safe_to_repeat
from deepseek_api._ratelimit import TokenBucket, rate_limit_wait
from deepseek_api._retry import RetryPolicy
from deepseek_api._tokens import AccessToken, AsyncTokenCache

_Continuation = Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]]
_Requests = AsyncIterable[Any] | Iterable[Any]
_Sleep = Callable[[float], Awaitable[None]]


@dataclass(slots=True)
class _StreamHead:
    """A streamed response read up to its first message, or to its failure before one."""

    responses: AsyncIterator[Any]
    first: list[Any]
    error: grpc.aio.AioRpcError | None

    def code(self) -> grpc.StatusCode | None:
        return None if self.error is None else self.error.code()

    async def replay(self) -> AsyncIterator[Any]:
        """The whole stream again, from its first message (or its failure)."""
        for response in self.first:
            yield response
        if self.error is not None:
            raise self.error
        async for response in self.responses:
            yield response


async def _read_head(call: Any) -> _StreamHead:
    responses: AsyncIterator[Any] = call.__aiter__()
    try:
        first = await anext(responses)
    except StopAsyncIteration:
        return _StreamHead(responses, [], None)
    except grpc.aio.AioRpcError as err:
        return _StreamHead(responses, [], err)
    except asyncio.CancelledError:
        call.cancel()
        raise
    return _StreamHead(responses, [first], None)


async def _failure(call: Any) -> grpc.aio.AioRpcError | None:
    try:
        await call
    except grpc.aio.AioRpcError as err:
        return err
    return None


class AuthInterceptor(
    grpc.aio.UnaryUnaryClientInterceptor,
    grpc.aio.UnaryStreamClientInterceptor,
    grpc.aio.StreamUnaryClientInterceptor,
    grpc.aio.StreamStreamClientInterceptor,
):
    """Attaches ``authorization: Bearer <token>`` to every call; see the sync twin."""

    def __init__(self, tokens: AsyncTokenCache) -> None:
        self._tokens = tokens
        self._checks: set[asyncio.Task[None]] = set()

    async def intercept_unary_unary(
        self,
        continuation: _Continuation,
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        deadline = Deadline.after(client_call_details.timeout)
        token = await self._tokens.get()
        call = await continuation(aio_details(client_call_details, deadline, token.value), request)
        error = await _failure(call)
        if error is None or error.code() is not grpc.StatusCode.UNAUTHENTICATED:
            return call
        token = await self._renew(token)
        return await continuation(aio_details(client_call_details, deadline, token.value), request)

    async def intercept_unary_stream(
        self,
        continuation: _Continuation,
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        deadline = Deadline.after(client_call_details.timeout)
        token = await self._tokens.get()
        head = await _read_head(
            await continuation(aio_details(client_call_details, deadline, token.value), request)
        )
        if head.code() is grpc.StatusCode.UNAUTHENTICATED:
            token = await self._renew(token)
            head = await _read_head(
                await continuation(aio_details(client_call_details, deadline, token.value), request)
            )
        return head.replay()

    async def intercept_stream_unary(
        self,
        continuation: _Continuation,
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: _Requests,
    ) -> Any:
        return await self._stream_request(continuation, client_call_details, request_iterator)

    async def intercept_stream_stream(
        self,
        continuation: _Continuation,
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: _Requests,
    ) -> Any:
        return await self._stream_request(continuation, client_call_details, request_iterator)

    async def _stream_request(
        self,
        continuation: _Continuation,
        details: grpc.aio.ClientCallDetails,
        request_iterator: _Requests,
    ) -> Any:
        # As in the sync twin: not repeatable here, but a refused token is forgotten.
        token = await self._tokens.get()
        call = await continuation(
            aio_details(details, Deadline.after(details.timeout), token.value), request_iterator
        )
        call.add_done_callback(lambda done: self._check_when_done(done, token))
        return call

    def _check_when_done(self, call: Any, token: AccessToken) -> None:
        # Done callbacks are plain functions, but an aio call reports its code to a coroutine.
        task = asyncio.get_running_loop().create_task(self._forget_if_refused(call, token))
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

    async def _forget_if_refused(self, call: Any, token: AccessToken) -> None:
        if not call.cancelled() and await call.code() is grpc.StatusCode.UNAUTHENTICATED:
            self._tokens.invalidate(token)

    async def _renew(self, refused: AccessToken) -> AccessToken:
        self._tokens.invalidate(refused)
        return await self._tokens.get()


class RetryInterceptor(grpc.aio.UnaryUnaryClientInterceptor, grpc.aio.UnaryStreamClientInterceptor):
    """Repeats unary calls, and streamed calls before their first message, per the policy."""

    def __init__(self, policy: RetryPolicy, sleep: _Sleep = asyncio.sleep) -> None:
        self._policy = policy
        self._sleep = sleep

    async def intercept_unary_unary(
        self,
        continuation: _Continuation,
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        safe = safe_to_repeat(method_name(client_call_details.method), request)
        deadline = Deadline.after(client_call_details.timeout)
        retry_number = 1
        while True:
            call = await continuation(aio_details(client_call_details, deadline), request)
            delay = self._delay(await _failure(call), retry_number, safe, deadline)
            if delay is None:
                return call
            await self._sleep(delay)
            retry_number += 1

    async def intercept_unary_stream(
        self,
        continuation: _Continuation,
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        safe = safe_to_repeat(method_name(client_call_details.method), request)
        deadline = Deadline.after(client_call_details.timeout)
        retry_number = 1
        while True:
            head = await _read_head(
                await continuation(aio_details(client_call_details, deadline), request)
            )
            delay = self._delay(head.error, retry_number, safe, deadline)
            if delay is None:
                return head.replay()
            await self._sleep(delay)
            retry_number += 1

    def _delay(
        self,
        error: grpc.aio.AioRpcError | None,
        retry_number: int,
        safe: bool,
        deadline: Deadline,
    ) -> float | None:
        if error is None:
            return None
        return self._policy.delay(
            retry_number=retry_number,
            code=error.code(),
            trailers=error.trailing_metadata(),
            safe=safe,
            time_left=deadline.time_left(),
        )


class RateLimitInterceptor(
    grpc.aio.UnaryUnaryClientInterceptor,
    grpc.aio.UnaryStreamClientInterceptor,
    grpc.aio.StreamUnaryClientInterceptor,
    grpc.aio.StreamStreamClientInterceptor,
):
    """Makes every attempt of every call await a token of the client's bucket."""

    def __init__(self, bucket: TokenBucket, sleep: _Sleep = asyncio.sleep) -> None:
        self._bucket = bucket
        self._sleep = sleep

    async def intercept_unary_unary(
        self,
        continuation: _Continuation,
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await continuation(await self._wait(client_call_details), request)

    async def intercept_unary_stream(
        self,
        continuation: _Continuation,
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await continuation(await self._wait(client_call_details), request)

    async def intercept_stream_unary(
        self,
        continuation: _Continuation,
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: _Requests,
    ) -> Any:
        return await continuation(await self._wait(client_call_details), request_iterator)

    async def intercept_stream_stream(
        self,
        continuation: _Continuation,
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: _Requests,
    ) -> Any:
        return await continuation(await self._wait(client_call_details), request_iterator)

    async def _wait(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        deadline = Deadline.after(details.timeout)
        wait = rate_limit_wait(self._bucket, deadline)
        if wait.delay > 0:
            try:
                await self._sleep(wait.delay)
            except BaseException:
                self._bucket.refund()
                raise
        if wait.gives_up:
            self._bucket.refund()
        return aio_details(details, deadline)


class _UnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, target: grpc.aio.UnaryUnaryClientInterceptor) -> None:
        self._target = target

    async def intercept_unary_unary(
        self,
        continuation: _Continuation,
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await self._target.intercept_unary_unary(continuation, client_call_details, request)


class _UnaryStream(grpc.aio.UnaryStreamClientInterceptor):
    def __init__(self, target: grpc.aio.UnaryStreamClientInterceptor) -> None:
        self._target = target

    async def intercept_unary_stream(
        self,
        continuation: _Continuation,
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await self._target.intercept_unary_stream(continuation, client_call_details, request)


class _StreamUnary(grpc.aio.StreamUnaryClientInterceptor):
    def __init__(self, target: grpc.aio.StreamUnaryClientInterceptor) -> None:
        self._target = target

    async def intercept_stream_unary(
        self,
        continuation: _Continuation,
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: _Requests,
    ) -> Any:
        return await self._target.intercept_stream_unary(
            continuation, client_call_details, request_iterator
        )


class _StreamStream(grpc.aio.StreamStreamClientInterceptor):
    def __init__(self, target: grpc.aio.StreamStreamClientInterceptor) -> None:
        self._target = target

    async def intercept_stream_stream(
        self,
        continuation: _Continuation,
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: _Requests,
    ) -> Any:
        return await self._target.intercept_stream_stream(
            continuation, client_call_details, request_iterator
        )


def per_shape(interceptors: Iterable[object]) -> list[grpc.aio.ClientInterceptor]:
    """One single-shape interceptor per call shape each of ``interceptors`` handles.

    A ``grpc.aio`` channel files an interceptor under the first shape it implements only
    (grpc/grpc#31442), so one implementing all four would see unary-unary calls alone.
    """
    adapters: list[grpc.aio.ClientInterceptor] = []
    for interceptor in interceptors:
        if isinstance(interceptor, grpc.aio.UnaryUnaryClientInterceptor):
            adapters.append(_UnaryUnary(interceptor))
        if isinstance(interceptor, grpc.aio.UnaryStreamClientInterceptor):
            adapters.append(_UnaryStream(interceptor))
        if isinstance(interceptor, grpc.aio.StreamUnaryClientInterceptor):
            adapters.append(_StreamUnary(interceptor))
        if isinstance(interceptor, grpc.aio.StreamStreamClientInterceptor):
            adapters.append(_StreamStream(interceptor))
    return adapters
