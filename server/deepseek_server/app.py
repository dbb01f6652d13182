"""The gateway process: one grpc.aio server with its services, health, reflection and state."""

from __future__ import annotations

import logging
from typing import Any

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from deepseek_server.config import ExecutorSettings, ServerSettings, Settings
from deepseek_server.executors import Executor, GpuType, LocalExecutor
from deepseek_server.interceptors import ErrorMappingInterceptor, RequestContextInterceptor
from deepseek_server.jobs.service import JobService
from deepseek_server.jobs.workspace import JobWorkspace
from deepseek_server.storage import SqliteOptions, Store, StoreError, open_store
from deepseek_server.transport import register_services
from deepseek_server.transport.jobs import JobServicer

_log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """The gateway could not start (port taken, state unreadable); the message says why."""


class Gateway:
    """A configured gateway. Build it, optionally add handlers to :attr:`server`, then start it.

    Construction does no I/O; :meth:`start` opens the state, recovers jobs, binds the port and
    starts serving; :meth:`stop` drains in-flight calls within the grace period, stops watching
    jobs (they keep running and are adopted at the next start) and closes the state.
    """

    def __init__(self, settings: Settings, executor: Executor | None = None) -> None:
        self.settings = settings
        self.executor = executor or make_executor(settings.executor)
        self.server = grpc.aio.server(
            interceptors=[RequestContextInterceptor(), ErrorMappingInterceptor()],
            options=channel_options(settings.server),
        )
        self.health = HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.service_names: list[str] = []
        self.port = 0
        self._store: Store | None = None
        self._jobs: JobService | None = None

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

    @property
    def jobs(self) -> JobService:
        """The job domain; available once started."""
        if self._jobs is None:
            raise RuntimeError("the gateway has not been started")
        return self._jobs

    async def start(self) -> None:
        """Open the state, recover jobs, bind the port and start serving."""
        storage = self.settings.storage
        try:
            storage.state_dir.mkdir(parents=True, exist_ok=True)
            self._store = await open_store(
                storage.database_path, SqliteOptions(synchronous=storage.synchronous)
            )
        except (OSError, StoreError) as exc:
            raise StartupError(f"cannot open the state in {storage.state_dir}: {exc}") from exc
        self._jobs = JobService(
            self._store,
            self.executor,
            JobWorkspace(storage.jobs_dir.absolute()),
            {"PATH": self.settings.executor.job_path, "LANG": "C.UTF-8"},
        )
        await self._jobs.start()
        self.service_names = register_services(self.server, {"JobService": JobServicer(self._jobs)})
        if self.settings.server.reflection:
            health_name = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
            reflection.enable_server_reflection(
                [*self.service_names, health_name, reflection.SERVICE_NAME], self.server
            )
        target = _join_host_port(self.settings.server.host, self.settings.server.port)
        try:
            self.port = self.server.add_insecure_port(target)
        except RuntimeError as exc:
            await self._close_state()
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
        if self._jobs is not None:
            self._jobs.end_streams()  # watchers get UNAVAILABLE and resume elsewhere or later
        await self.server.stop(grace)
        await self._close_state()
        _log.info("gateway stopped")

    async def _close_state(self) -> None:
        if self._jobs is not None:
            await self._jobs.close()
        if self._store is not None:
            await self._store.close()


def make_executor(settings: ExecutorSettings) -> Executor:
    """The executor the settings name."""
    return LocalExecutor(
        cpus=settings.cpus or None,
        memory_gb=settings.memory_gb or None,
        gpus=settings.gpus,
        gpu_type=GpuType(settings.gpu_type),
        kill_grace_seconds=settings.kill_grace_seconds,
    )


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
