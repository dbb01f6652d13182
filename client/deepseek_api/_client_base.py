"""What the method groups of the clients (``_sync_*``, ``_async_*``) need of a client: its
call path and configuration. The clients implement these; the groups call them."""

from __future__ import annotations

import abc
from collections.abc import AsyncGenerator, Callable, Generator
from typing import TypeVar

import grpc
import grpc.aio

from deepseek_api._config import RetryConfig
from deepseek_api._core import USE_CLIENT_DEFAULT, CallTimeout

_Request = TypeVar("_Request")
_Response = TypeVar("_Response")
_Stub = TypeVar("_Stub")


class SyncCalls(abc.ABC):
    """The call path of :class:`DeepSeekClient`."""

    __slots__ = ()

    @property
    @abc.abstractmethod
    def _retry_config(self) -> RetryConfig: ...

    @abc.abstractmethod
    def _stub(self, factory: Callable[[grpc.Channel], _Stub]) -> _Stub: ...

    @abc.abstractmethod
    def _unary(
        self,
        method: grpc.UnaryUnaryMultiCallable[_Request, _Response],
        request: _Request,
        *,
        timeout: CallTimeout = USE_CLIENT_DEFAULT,
    ) -> _Response: ...

    @abc.abstractmethod
    def _server_stream(
        self,
        method: grpc.UnaryStreamMultiCallable[_Request, _Response],
        request: _Request,
        *,
        timeout: CallTimeout = USE_CLIENT_DEFAULT,
    ) -> Generator[_Response]: ...


class AsyncCalls(abc.ABC):
    """The call path of :class:`AsyncDeepSeekClient`."""

    __slots__ = ()

    @property
    @abc.abstractmethod
    def _retry_config(self) -> RetryConfig: ...

    @abc.abstractmethod
    def _stub(self, factory: Callable[[grpc.aio.Channel], _Stub]) -> _Stub: ...

    @abc.abstractmethod
    async def _unary(
        self,
        method: grpc.aio.UnaryUnaryMultiCallable[_Request, _Response],
        request: _Request,
        *,
        timeout: CallTimeout = USE_CLIENT_DEFAULT,  # noqa: ASYNC109 (a gRPC deadline)
    ) -> _Response: ...

    @abc.abstractmethod
    def _server_stream(
        self,
        method: grpc.aio.UnaryStreamMultiCallable[_Request, _Response],
        request: _Request,
        *,
        timeout: CallTimeout = USE_CLIENT_DEFAULT,
    ) -> AsyncGenerator[_Response]: ...
