"""The synchronous client."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar, cast

import grpc

from deepseek_api import _calls, _health
from deepseek_api._config import ChannelOptions, TlsConfig
from deepseek_api._core import USE_CLIENT_DEFAULT, CallTimeout, ClientCore

_Request = TypeVar("_Request")
_Response = TypeVar("_Response")
_Stub = TypeVar("_Stub")


class DeepSeekClient(ClientCore):
    """A synchronous client of the DeepSeek HPC API.

    One client holds one gRPC channel (connected lazily, on the first call) and is safe
    to share between threads. Close it when done, or use it as a context manager::

        with ds.DeepSeekClient("https://api.deepseek.supercomp.cn", credentials={...}) as c:
            c.check_health()

    Args:
        endpoint: ``https://host[:port]`` (TLS, port 443 by default), ``http://host[:port]``
            or ``host:port`` (plaintext, unless ``tls`` is given), ``[::1]:50051`` for IPv6.
        credentials: ``{"client_id": ..., "client_secret": ...}`` of a registered API
            client, optionally with ``scope``.
        tls: Root certificates, a client certificate for mutual TLS, a server name override.
        options: Channel settings (keepalive, message sizes, user agent).
        timeout: Default deadline of each call in seconds; None for no deadline.

    Raises:
        ValueError, TypeError: if an argument is malformed; the message says which.
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
        self._lock = threading.Lock()
        self._channel = self._channel_spec.open()
        self._stubs: dict[Callable[[grpc.Channel], Any], Any] = {}

    def check_health(self, service: str = "") -> str:
        """Ask the server's standard health service whether ``service`` is serving.

        Args:
            service: A fully qualified service name, or "" for the server as a whole.

        Returns:
            ``"SERVING"``, ``"NOT_SERVING"``, ``"SERVICE_UNKNOWN"`` or ``"UNKNOWN"``.

        Raises:
            NotFound: if the server does not know ``service``.
            APIException: if the call fails otherwise (Unavailable if unreachable).
        """
        response = self._unary(
            self._stub(_health.HealthStub).Check, _health.health_check_request(service)
        )
        return _health.serving_status(response)

    def close(self) -> None:
        """Close the channel, cancelling calls in flight. Closing again does nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stubs.clear()
        self._channel.close()

    def __enter__(self) -> Self:
        self._ensure_open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _stub(self, factory: Callable[[grpc.Channel], _Stub]) -> _Stub:
        with self._lock:
            self._ensure_open()
            stub = self._stubs.get(factory)
            if stub is None:
                stub = self._stubs[factory] = factory(self._channel)
            return cast(_Stub, stub)

    def _unary(
        self,
        method: grpc.UnaryUnaryMultiCallable[_Request, _Response],
        request: _Request,
        *,
        timeout: CallTimeout = USE_CLIENT_DEFAULT,
    ) -> _Response:
        return _calls.unary(method, request, self._call_timeout(timeout))

    def _server_stream(
        self,
        method: grpc.UnaryStreamMultiCallable[_Request, _Response],
        request: _Request,
        *,
        timeout: CallTimeout = USE_CLIENT_DEFAULT,
    ) -> Iterator[_Response]:
        return _calls.server_stream(method, request, self._call_timeout(timeout))
