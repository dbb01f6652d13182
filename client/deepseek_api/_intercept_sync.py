"""The sync client's interceptors: authentication, retries, rate limiting.

Installed with ``grpc.intercept_channel`` in this order, outermost first:

1. :class:`AuthInterceptor` attaches the token; after UNAUTHENTICATED it fetches a new
   one and repeats the call once (unary responses; streamed ones before their first
   message).
2. :class:`RetryInterceptor` repeats failed attempts as :class:`RetryPolicy` says.
3. :class:`RateLimitInterceptor` makes every attempt wait for a token of the bucket.

Streamed responses are read up to their first message inside the interceptors, so that a
call that fails before producing anything can still be repeated; the caller then iterates
a :class:`ReplayedStream` starting with that message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from deepseek_api._call_details import Deadline, method_name, sync_details
from deepseek_api._methods import safe_to_repeat
from deepseek_api._ratelimit import TokenBucket, rate_limit_wait
from deepseek_api._retry import RetryPolicy
from deepseek_api._tokens import AccessToken, TokenCache

_Continuation = Callable[[grpc.ClientCallDetails, Any], Any]

Interceptor = (
    grpc.UnaryUnaryClientInterceptor
    | grpc.UnaryStreamClientInterceptor
    | grpc.StreamUnaryClientInterceptor
    | grpc.StreamStreamClientInterceptor
)


class ReplayedStream(grpc.Call, Iterator[Any]):
    """A streamed response whose first message (or failure) was read ahead."""

    def __init__(self, call: Any, head: list[Any], error: grpc.RpcError | None) -> None:
        self._call = call
        self._head = head
        self._error = error

    @property
    def error(self) -> grpc.RpcError | None:
        """The failure that ended the stream before its first message, if it did."""
        return self._error

    def __iter__(self) -> ReplayedStream:
        return self

    def __next__(self) -> Any:
        if self._head:
            return self._head.pop()
        if self._error is not None:
            raise self._error
        return next(self._call)

    def code(self) -> grpc.StatusCode:
        return self._call.code()  # type: ignore[no-any-return]

    def details(self) -> str:
        return self._call.details()  # type: ignore[no-any-return]

    def initial_metadata(self) -> Any:
        return self._call.initial_metadata()

    def trailing_metadata(self) -> Any:
        return self._call.trailing_metadata()

    def is_active(self) -> bool:
        return self._call.is_active()  # type: ignore[no-any-return]

    def time_remaining(self) -> float:
        return self._call.time_remaining()  # type: ignore[no-any-return]

    def cancel(self) -> bool:
        return self._call.cancel()  # type: ignore[no-any-return]

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return self._call.add_callback(callback)  # type: ignore[no-any-return]


def _read_head(call: Any) -> ReplayedStream:
    try:
        return ReplayedStream(call, [next(call)], None)
    except StopIteration:
        return ReplayedStream(call, [], None)
    except grpc.RpcError as err:
        return ReplayedStream(call, [], err)


def _code(error: BaseException | None) -> grpc.StatusCode | None:
    return (
        error.code() if isinstance(error, grpc.RpcError) and isinstance(error, grpc.Call) else None
    )


class AuthInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Attaches ``authorization: Bearer <token>`` to every call."""

    def __init__(self, tokens: TokenCache) -> None:
        self._tokens = tokens

    def intercept_unary_unary(
        self, continuation: _Continuation, client_call_details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        deadline = Deadline.after(client_call_details.timeout)
        token = self._tokens.get()
        outcome = continuation(sync_details(client_call_details, deadline, token.value), request)
        if _code(outcome.exception()) is not grpc.StatusCode.UNAUTHENTICATED:
            return outcome
        token = self._renew(token)
        return continuation(sync_details(client_call_details, deadline, token.value), request)

    def intercept_unary_stream(
        self, continuation: _Continuation, client_call_details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        deadline = Deadline.after(client_call_details.timeout)
        token = self._tokens.get()
        stream = _read_head(
            continuation(sync_details(client_call_details, deadline, token.value), request)
        )
        if _code(stream.error) is not grpc.StatusCode.UNAUTHENTICATED:
            return stream
        token = self._renew(token)
        return _read_head(
            continuation(sync_details(client_call_details, deadline, token.value), request)
        )

    def intercept_stream_unary(
        self,
        continuation: _Continuation,
        client_call_details: grpc.ClientCallDetails,
        request_iterator: Iterator[Any],
    ) -> Any:
        return self._stream_request(continuation, client_call_details, request_iterator)

    def intercept_stream_stream(
        self,
        continuation: _Continuation,
        client_call_details: grpc.ClientCallDetails,
        request_iterator: Iterator[Any],
    ) -> Any:
        return self._stream_request(continuation, client_call_details, request_iterator)

    def _stream_request(
        self,
        continuation: _Continuation,
        details: grpc.ClientCallDetails,
        request_iterator: Iterator[Any],
    ) -> Any:
        # The requests are consumed as they are sent, so such a call cannot be repeated
        # here; a refused token is forgotten so that the caller's next attempt gets a new one.
        token = self._tokens.get()
        call = continuation(
            sync_details(details, Deadline.after(details.timeout), token.value), request_iterator
        )
        call.add_done_callback(lambda done: self._forget_if_refused(done, token))
        return call

    def _forget_if_refused(self, done: Any, token: AccessToken) -> None:
        if _code(done.exception()) is grpc.StatusCode.UNAUTHENTICATED:
            self._tokens.invalidate(token)

    def _renew(self, refused: AccessToken) -> AccessToken:
        self._tokens.invalidate(refused)
        return self._tokens.get()


class RetryInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Repeats unary calls, and streamed calls before their first message, per the policy.

    Calls streaming their requests pass through untouched: their requests are gone once
    sent (the upload helper resumes on its own).
    """

    def __init__(self, policy: RetryPolicy, sleep: Callable[[float], None] = time.sleep) -> None:
        self._policy = policy
        self._sleep = sleep

    def intercept_unary_unary(
        self, continuation: _Continuation, client_call_details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        safe = safe_to_repeat(method_name(client_call_details.method), request)
        deadline = Deadline.after(client_call_details.timeout)
        retry_number = 1
        while True:
            outcome = continuation(sync_details(client_call_details, deadline), request)
            delay = self._delay(outcome.exception(), retry_number, safe, deadline)
            if delay is None:
                return outcome
            self._sleep(delay)
            retry_number += 1

    def intercept_unary_stream(
        self, continuation: _Continuation, client_call_details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        safe = safe_to_repeat(method_name(client_call_details.method), request)
        deadline = Deadline.after(client_call_details.timeout)
        retry_number = 1
        while True:
            stream = _read_head(continuation(sync_details(client_call_details, deadline), request))
            delay = self._delay(stream.error, retry_number, safe, deadline)
            if delay is None:
                return stream
            self._sleep(delay)
            retry_number += 1

    def _delay(
        self, error: BaseException | None, retry_number: int, safe: bool, deadline: Deadline
    ) -> float | None:
        if not (isinstance(error, grpc.RpcError) and isinstance(error, grpc.Call)):
            return None
        return self._policy.delay(
            retry_number=retry_number,
            code=error.code(),
            trailers=error.trailing_metadata(),
            safe=safe,
            time_left=deadline.time_left(),
        )


class RateLimitInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Makes every attempt of every call wait for a token of the client's bucket."""

    def __init__(self, bucket: TokenBucket, sleep: Callable[[float], None] = time.sleep) -> None:
        self._bucket = bucket
        self._sleep = sleep

    def intercept_unary_unary(
        self, continuation: _Continuation, client_call_details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        return continuation(self._wait(client_call_details), request)

    def intercept_unary_stream(
        self, continuation: _Continuation, client_call_details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        return continuation(self._wait(client_call_details), request)

    def intercept_stream_unary(
        self,
        continuation: _Continuation,
        client_call_details: grpc.ClientCallDetails,
        request_iterator: Iterator[Any],
    ) -> Any:
        return continuation(self._wait(client_call_details), request_iterator)

    def intercept_stream_stream(
        self,
        continuation: _Continuation,
        client_call_details: grpc.ClientCallDetails,
        request_iterator: Iterator[Any],
    ) -> Any:
        return continuation(self._wait(client_call_details), request_iterator)

    def _wait(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        deadline = Deadline.after(details.timeout)
        wait = rate_limit_wait(self._bucket, deadline)
        if wait.delay > 0:
            try:
                self._sleep(wait.delay)
            except BaseException:
                self._bucket.refund()
                raise
        if wait.gives_up:
            self._bucket.refund()
        return sync_details(details, deadline)
