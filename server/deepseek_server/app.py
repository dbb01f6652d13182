"""The gateway process: one grpc.aio server with its services, health, reflection and state."""

from __future__ import annotations

import logging
from typing import Any

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from deepseek_server.accounts.model import Prices, QuotaKind
from deepseek_server.accounts.service import Accounts
from deepseek_server.audit import AuditLog, AuditOptions, KeyRingSigner, PublicKeys
from deepseek_server.audit.job_events import job_state_auditor
from deepseek_server.config import (
    AccountSettings,
    AuditSettings,
    ConfigError,
    ServerSettings,
    Settings,
    check_consistency,
)
from deepseek_server.context import LOCAL_PRINCIPAL
from deepseek_server.data import DataService
from deepseek_server.executors import Executor, ExecutorUnavailable, GpuType, LocalExecutor
from deepseek_server.executors.slurm import SlurmCommands, SlurmExecutor, SubmitOptions
from deepseek_server.identity import IdentityService, TokenVerifier
from deepseek_server.interceptors import ErrorMappingInterceptor, RequestContextInterceptor
from deepseek_server.interceptors.audit import AuditInterceptor
from deepseek_server.jobs.service import JobService
from deepseek_server.jobs.workspace import JobWorkspace
from deepseek_server.security import (
    JWKS_FILE_NAME,
    TlsFileError,
    auth_interceptors,
    server_credentials,
    token_policy,
)
from deepseek_server.storage import SqliteOptions, Store, StoreError, installation_id, open_store
from deepseek_server.transport import register_services
from deepseek_server.transport.accounts import AccountServicer
from deepseek_server.transport.audit import AuditServicer
from deepseek_server.transport.auth import AuthServicer
from deepseek_server.transport.data import DataChunkServicer
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
        self.executor = executor or make_executor(settings)
        self.token_verifier = TokenVerifier(token_policy(settings.auth))
        self.audit_interceptor = AuditInterceptor(
            None if settings.auth.required else LOCAL_PRINCIPAL
        )
        self.server = grpc.aio.server(
            interceptors=[
                RequestContextInterceptor(),
                ErrorMappingInterceptor(),
                self.audit_interceptor,
                *auth_interceptors(settings.auth, self.token_verifier),
            ],
            options=channel_options(settings.server),
        )
        self.health = HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.service_names: list[str] = []
        self.port = 0
        self._store: Store | None = None
        self._jobs: JobService | None = None
        self._data: DataService | None = None
        self._identity: IdentityService | None = None
        self._accounts: Accounts | None = None
        self._audit: AuditLog | None = None

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

    @property
    def data(self) -> DataService:
        """Uploads, downloads and datasets; available once started."""
        if self._data is None:
            raise RuntimeError("the gateway has not been started")
        return self._data

    @property
    def accounts(self) -> Accounts:
        """Quotas, billing and alerts; available once started."""
        if self._accounts is None:
            raise RuntimeError("the gateway has not been started")
        return self._accounts

    @property
    def identity(self) -> IdentityService:
        """Clients, keys and tokens; available once started."""
        if self._identity is None:
            raise RuntimeError("the gateway has not been started")
        return self._identity

    @property
    def audit(self) -> AuditLog:
        """The audit log; available once started with auditing enabled."""
        if self._audit is None:
            raise RuntimeError("the gateway has not been started, or auditing is off")
        return self._audit

    async def start(self) -> None:
        """Open the state, recover jobs, bind the port and start serving."""
        storage = self.settings.storage
        try:
            check_consistency(self.settings)
        except ConfigError as exc:
            raise StartupError(str(exc)) from exc
        try:
            storage.state_dir.mkdir(parents=True, exist_ok=True)
            self._store = await open_store(
                storage.database_path, SqliteOptions(synchronous=storage.synchronous)
            )
        except (OSError, StoreError) as exc:
            raise StartupError(f"cannot open the state in {storage.state_dir}: {exc}") from exc
        self._identity = IdentityService(
            self._store,
            self.token_verifier.policy,
            self.settings.auth.algorithm,
            storage.state_dir / JWKS_FILE_NAME,
            self.token_verifier,
        )
        try:
            await self._identity.start()
        except (OSError, StoreError) as exc:
            await self._close_state()
            raise StartupError(f"cannot load the signing keys and clients: {exc}") from exc
        if self.settings.audit.enabled:
            self._audit = make_audit_log(self._store, self._identity, self.settings.audit)
            await self._audit.start()
            self.audit_interceptor.attach(self._audit)
        self._accounts = make_accounts(
            self._store, self.settings.accounts, self.settings.data.storage_quota_bytes
        )
        try:
            await self.executor.open(await installation_id(self._store))
        except ExecutorUnavailable as exc:
            await self._close_state()
            raise StartupError(f"cannot use the {self.executor.name} executor: {exc}") from exc
        self._jobs = JobService(
            self._store,
            self.executor,
            JobWorkspace(storage.jobs_dir.absolute()),
            {"PATH": self.settings.executor.job_path, "LANG": "C.UTF-8"},
            self.accounts,
        )
        self._data = DataService(
            self._store,
            self.settings.data,
            self._jobs,
            storage.uploads_dir.absolute(),
            storage.datasets_dir.absolute(),
            lambda owner: self.accounts.limit(owner, QuotaKind.STORAGE_BYTES),
        )
        self._jobs.use_datasets(self._data)
        if self._audit is not None:
            self._jobs.observe(job_state_auditor(self._audit))
        await self._jobs.start()
        await self._data.start()
        self.service_names = register_services(
            self.server,
            {
                "AuthService": AuthServicer(self._identity),
                "JobService": JobServicer(self._jobs),
                "DataChunkService": DataChunkServicer(self._data),
                "AccountService": AccountServicer(self.accounts, self._jobs, self._data),
                **({"AuditService": AuditServicer(self._audit)} if self._audit else {}),
            },
        )
        if self.settings.server.reflection:
            health_name = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
            reflection.enable_server_reflection(
                [*self.service_names, health_name, reflection.SERVICE_NAME], self.server
            )
        target = _join_host_port(self.settings.server.host, self.settings.server.port)
        try:
            credentials = await server_credentials(self.settings.tls)
            if credentials is None:
                self.port = self.server.add_insecure_port(target)
            else:
                self.port = self.server.add_secure_port(target, credentials)
        except TlsFileError as exc:
            await self._close_state()
            raise StartupError(f"cannot set up TLS: {exc}") from exc
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
        if self._audit is not None:
            self._audit.end_streams()
        await self.server.stop(grace)
        await self._close_state()
        _log.info("gateway stopped")

    async def _close_state(self) -> None:
        if self._identity is not None:
            await self._identity.close()
        if self._data is not None:
            await self._data.close()
        if self._jobs is not None:
            await self._jobs.close()
        if self._accounts is not None:
            await self._accounts.close()
        if self._audit is not None:
            # After everything that records: the last calls and job transitions are flushed.
            await self._audit.close()
        if self._store is not None:
            await self._store.close()


def make_audit_log(store: Store, identity: IdentityService, settings: AuditSettings) -> AuditLog:
    """The audit log, its checkpoints signed with the identity's active key."""
    options = AuditOptions(
        mode="async" if settings.mode == "async" else "sync",
        buffer_records=settings.async_buffer_records,
        checkpoint_every_records=settings.checkpoint_every_records,
        checkpoint_every_seconds=settings.checkpoint_every_seconds,
    )
    signer = KeyRingSigner(lambda: identity.signing_key)
    return AuditLog(store, signer, lambda: PublicKeys.of(identity.jwks()), options)


def make_accounts(store: Store, settings: AccountSettings, storage_quota_bytes: int) -> Accounts:
    """Quotas, prices and alert thresholds from the settings."""
    defaults = {
        QuotaKind.CONCURRENT_JOBS: settings.concurrent_jobs,
        QuotaKind.NODES: settings.nodes,
        QuotaKind.GPUS: settings.gpus,
        QuotaKind.MONTHLY_BUDGET: settings.monthly_budget,
        QuotaKind.STORAGE_BYTES: storage_quota_bytes,
    }
    prices = Prices(
        currency=settings.currency,
        core_second=settings.price_core_second,
        memory_gb_second=settings.price_memory_gb_second,
        gpu_second={
            GpuType.A100: settings.price_a100_second,
            GpuType.H100: settings.price_h100_second,
        },
    )
    return Accounts(store, defaults, prices, settings.thresholds)


def make_executor(all_settings: Settings) -> Executor:
    """The executor the settings name (no I/O: it is opened when the gateway starts)."""
    settings = all_settings.executor
    if settings.kind == "slurm":
        slurm = all_settings.slurm
        return SlurmExecutor(
            SlurmCommands(
                slurm.bin_dir,
                slurm.slurm_conf,
                slurm.command_timeout_seconds,
                # sbatch at full concurrency, with room for the poller's squeue and sacct.
                workers=slurm.submit_concurrency + 2,
            ),
            SubmitOptions(partition=slurm.partition, account=slurm.account, qos=slurm.qos),
            poll_interval_seconds=slurm.poll_interval_seconds,
            submit_concurrency=slurm.submit_concurrency,
        )
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
