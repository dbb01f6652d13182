"""The one call path every client method goes through: invoke a stub method with a
deadline and turn a failed call into an ``APIException``.

Authentication, retries and rate limiting happen below, in the channel's interceptors
(:mod:`deepseek_api._transport`).
The async functions take a ``timeout`` (ASYNC109 notwithstanding) because it becomes the
gRPC deadline, which travels to the server; ``asyncio.timeout`` would only stop waiting.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from typing import TypeVar

import grpc

from deepseek_api._status import from_rpc_error

_Request = TypeVar("_Request")
_Response = TypeVar("_Response")


def unary(
    method: grpc.UnaryUnaryMultiCallable[_Request, _Response],
    request: _Request,
    timeout: float | None,
) -> _Response:
    """Call a unary method; raise ``APIException`` on failure."""
    try:
        return method(request, timeout=timeout)
    except grpc.RpcError as err:
        raise from_rpc_error(err) from err


def server_stream(
    method: grpc.UnaryStreamMultiCallable[_Request, _Response],
    request: _Request,
    timeout: float | None,
) -> Generator[_Response]:
    """Call a server-streaming method on first iteration; a failure mid-stream raises
    ``APIException`` after the responses that arrived before it."""
    call = method(request, timeout=timeout)
    try:
        yield from call
    except grpc.RpcError as err:
        raise from_rpc_error(err) from err
    finally:
        # The consumer may stop early; do not leave the stream open on the server.
        call.cancel()


async def unary_async(
    method: grpc.aio.UnaryUnaryMultiCallable[_Request, _Response],
    request: _Request,
    timeout: float | None,  # noqa: ASYNC109
) -> _Response:
    """Await a unary ``grpc.aio`` method; raise ``APIException`` on failure."""
    try:
        return await method(request, timeout=timeout)
    except grpc.RpcError as err:
        raise from_rpc_error(err) from err


async def server_stream_async(
    method: grpc.aio.UnaryStreamMultiCallable[_Request, _Response],
    request: _Request,
    timeout: float | None,  # noqa: ASYNC109
) -> AsyncGenerator[_Response]:
    """The ``grpc.aio`` twin of :func:`server_stream`."""
    call = method(request, timeout=timeout)
    try:
        async for response in call:
            yield response
    except grpc.RpcError as err:
        raise from_rpc_error(err) from err
    finally:
        call.cancel()


def bidi_stream(
    method: grpc.StreamStreamMultiCallable[_Request, _Response],
    requests: Iterator[_Request],
    timeout: float | None,
) -> Generator[_Response]:
    """Call a bidirectional-streaming method, sending ``requests`` (consumed by a gRPC
    thread); errors as in :func:`server_stream`."""
    call = method(requests, timeout=timeout)
    try:
        yield from call
    except grpc.RpcError as err:
        raise from_rpc_error(err) from err
    finally:
        call.cancel()


async def bidi_stream_async(
    method: grpc.aio.StreamStreamMultiCallable[_Request, _Response],
    requests: AsyncIterator[_Request],
    timeout: float | None,  # noqa: ASYNC109
) -> AsyncGenerator[_Response]:
    """The ``grpc.aio`` twin of :func:`bidi_stream`."""
    call = method(requests, timeout=timeout)
    try:
        async for response in call:
            yield response
    except grpc.RpcError as err:
        raise from_rpc_error(err) from err
    finally:
        call.cancel()
