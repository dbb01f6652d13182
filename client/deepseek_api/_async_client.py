"""The asyncio client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar, cast

import grpc

from deepseek_api import _calls, _health
from deepseek_api._config import ChannelOptions, TlsConfig
from deepseek_api._core import USE_CLIENT_DEFAULT, CallTimeout, ClientCore

_Request = TypeVar("_Request")
_Response = TypeVar("_Response")
_Stub = TypeVar("_Stub")


class AsyncDeepSeekClient(ClientCore):
    """An asyncio client of the DeepSeek HPC API, with the surface of ``DeepSeekClient``.

    Its ``grpc.aio`` channel is opened on the first call and belongs to that call's event
    loop: use the client from one loop. Close it when done, or use it as a context manager::

        async with ds.AsyncDeepSeekClient("https://api.deepseek.supercomp.cn") as client:
            await client.check_health()

    The arguments are those of :class:`DeepSeekClient`.
    """

    def __init__(
        self,
        endpoint: str = "127.0.0.1:50051",
        credentials: Mapping[str, str] | None = None,
        *,
        tls: TlsConfig | None = None,
        options: ChannelOptions | None = None,
        timeout: float | None = 30.0,
    ) -> None:
        super().__init__(endpoint, credentials, tls=tls, options=options, timeout=timeout)
        # Opened lazily: a grpc.aio channel binds to the event loop running when it is made.
        self._channel: grpc.aio.Channel | None = None
        self._stubs: dict[Callable[[grpc.aio.Channel], Any], Any] = {}

    async def check_health(self, service: str = "") -> str:
        """Ask the server's standard health service whether ``service`` is serving.

        See :meth:`DeepSeekClient.check_health`.
        """
        response = await self._unary(
            self._stub(_health.HealthStub).Check, _health.health_check_request(service)
        )
        return _health.serving_status(response)

    async def close(self) -> None:
        """Close the channel, cancelling calls in flight. Closing again does nothing."""
        if self._closed:
            return
        self._closed = True
        channel, self._channel = self._channel, None
        self._stubs.clear()
        if channel is not None:
            await channel.close()

    async def aclose(self) -> None:
        """The same as :meth:`close`, for ``contextlib.aclosing``."""
        await self.close()

    async def __aenter__(self) -> Self:
        self._ensure_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def _stub(self, factory: Callable[[grpc.aio.Channel], _Stub]) -> _Stub:
        self._ensure_open()
        if self._channel is None:
            self._channel = self._channel_spec.open_aio()
        stub = self._stubs.get(factory)
        if stub is None:
            stub = self._stubs[factory] = factory(self._channel)
        return cast(_Stub, stub)

    async def _unary(
        self,
        method: grpc.aio.UnaryUnaryMultiCallable[_Request, _Response],
        request: _Request,
        *,
        timeout: CallTimeout = USE_CLIENT_DEFAULT,  # noqa: ASYNC109 (a gRPC deadline)
    ) -> _Response:
        return await _calls.unary_async(method, request, self._call_timeout(timeout))

    def _server_stream(
        self,
        method: grpc.aio.UnaryStreamMultiCallable[_Request, _Response],
        request: _Request,
        *,
        timeout: CallTimeout = USE_CLIENT_DEFAULT,
    ) -> AsyncIterator[_Response]:
        return _calls.server_stream_async(method, request, self._call_timeout(timeout))
