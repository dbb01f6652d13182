"""The gateway process: one grpc.aio server with its services, health, reflection and state."""

from __future__ import annotations

import logging
from typing import Any

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from deepseek_server.config import ServerSettings, Settings
from deepseek_server.interceptors import ErrorMappingInterceptor, RequestContextInterceptor
from deepseek_server.storage import SqliteOptions, Store, StoreError, open_store
from deepseek_server.transport import register_services

_log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """The gateway could not start (port taken, state unreadable); the message says why."""


class Gateway:
    """A configured gateway. Build it, optionally add handlers to :attr:`server`, then start it.

    Construction does no I/O; :meth:`start` opens the state, binds the port and starts serving;
    :meth:`stop` drains in-flight calls within the grace period and closes the state.
    """

    def __init__(self, settings: Settings, servicers: dict[str, object] | None = None) -> None:
        self.settings = settings
        self.server = grpc.aio.server(
            interceptors=[RequestContextInterceptor(), ErrorMappingInterceptor()],
            options=channel_options(settings.server),
        )
        self.health = HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.service_names = register_services(self.server, servicers or {})
        if settings.server.reflection:
            reflection.enable_server_reflection(
                [
                    *self.service_names,
                    health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                    reflection.SERVICE_NAME,
                ],
                self.server,
            )
        self.port = 0
        self._store: Store | None = None

    @property
    def address(self) -> str:
        """``host:port`` the gateway listens on, with the port actually bound."""
        return _join_host_port(self.settings.server.host, self.port)

    @property
    def store(self) -> Store:
        """The gateway's state store; available once started."""
        if self._store is None:
            raise RuntimeError("the gateway has not been started")
        return self._store

    async def start(self) -> None:
        """Open the state directory, bind the port and start serving."""
        storage = self.settings.storage
        try:
            storage.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StartupError(f"cannot create state directory {storage.state_dir}: {exc}") from exc
        try:
            self._store = await open_store(
                storage.database_path, SqliteOptions(synchronous=storage.synchronous)
            )
        except StoreError as exc:
            raise StartupError(str(exc)) from exc
        target = _join_host_port(self.settings.server.host, self.settings.server.port)
        try:
            self.port = self.server.add_insecure_port(target)
        except RuntimeError as exc:
            await self._store.close()
            raise StartupError(f"cannot listen on {target}: {exc}") from exc
        await self.server.start()
        for name in ("", *self.service_names):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        _log.info("gateway serving", extra={"address": self.address, "port": self.port})

    async def stop(self, grace: float | None = None) -> None:
        """Report NOT_SERVING, let in-flight calls finish for ``grace`` seconds, close state."""
        grace = self.settings.server.grace_period_seconds if grace is None else grace
        _log.info("gateway stopping", extra={"grace_seconds": grace})
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        if self._store is not None:
            await self._store.close()
        _log.info("gateway stopped")


def channel_options(settings: ServerSettings) -> list[tuple[str, Any]]:
    """gRPC core options for the listener, from the server settings."""
    return [
        ("grpc.max_receive_message_length", settings.max_receive_message_bytes),
        ("grpc.max_send_message_length", settings.max_send_message_bytes),
        ("grpc.max_concurrent_streams", settings.max_concurrent_streams),
        ("grpc.keepalive_time_ms", int(settings.keepalive_time_seconds * 1000)),
        ("grpc.keepalive_timeout_ms", int(settings.keepalive_timeout_seconds * 1000)),
        ("grpc.keepalive_permit_without_calls", 1),
        (
            "grpc.http2.min_ping_interval_without_data_ms",
            int(settings.min_client_ping_interval_seconds * 1000),
        ),
        # gRPC sets SO_REUSEPORT by default, which lets a second gateway bind a port that is
        # already served and silently split traffic; a taken port must be an error instead.
        ("grpc.so_reuseport", 0),
    ]


def _join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
