"""The synchronous client."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar, cast

import grpc

from deepseek.hpc.v1 import job_pb2, job_pb2_grpc
from deepseek_api import _calls, _health, _jobs, _transport, _watch
from deepseek_api._capabilities import Capabilities
from deepseek_api._config import (
    DEFAULT_RETRY,
    ChannelOptions,
    RateLimitConfig,
    RetryConfig,
    TlsConfig,
)
from deepseek_api._core import USE_CLIENT_DEFAULT, CallTimeout, ClientCore
from deepseek_api._errors import APIException, DeadlineExceeded
from deepseek_api._job import Job, LogStreamName
from deepseek_api._ml import MLTask, ml_task_spec
from deepseek_api._specs import JobSpecLike
from deepseek_api._sync_accounts import SyncAccountMethods
from deepseek_api._sync_data import SyncDataMethods
from deepseek_api._watch import JobEvent

_Request = TypeVar("_Request")
_Response = TypeVar("_Response")
_Stub = TypeVar("_Stub")


class DeepSeekClient(ClientCore, SyncDataMethods, SyncAccountMethods):
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
        timeout: Default deadline of each call in seconds; None for no deadline. Retries
            and waiting for the rate limiter happen within it.
        retry: How failed calls are retried (see :class:`RetryConfig`);
            ``RetryConfig(max_retries=0)`` turns retrying off.
        rate_limit: A client-side token bucket the calls wait on (see
            :class:`RateLimitConfig`); None (the default) for no client-side limit.

    With ``credentials`` every call carries an access token, fetched with them on the
    first call and refreshed before it expires; a call the server refuses as
    UNAUTHENTICATED is repeated once with a new token. Without ``credentials`` calls go
    out without a token (a gateway with authentication switched off).

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
        retry: RetryConfig = DEFAULT_RETRY,
        rate_limit: RateLimitConfig | None = None,
    ) -> None:
        super().__init__(
            endpoint,
            credentials,
            tls=tls,
            options=options,
            timeout=timeout,
            retry=retry,
            rate_limit=rate_limit,
        )
        self._lock = threading.Lock()
        opened = _transport.open_sync(self._channel_spec, self._layers)
        self._channel = opened.calls
        self._token_cache = opened.token_cache
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

    def create_job(
        self, spec: JobSpecLike, *, submit: bool = False, request_id: str | None = None
    ) -> Job:
        """Create a job.

        ::

            job = client.create_job({
                "job_name": "molecular_dynamics_001",
                "resource_spec": {"nodes": 4, "cpus_per_node": 32, "gpus_per_node": 2,
                                  "memory_gb": 256, "gpu_type": "A100"},
                "command": "mpirun -np 128 ./lammps_simulation",
                "timeout": 86400,
            })

        Args:
            spec: A ``deepseek.hpc.v1.JobSpec``, or a mapping in the platform guide's JSON
                shape: ``job_name``, ``resource_spec`` (``nodes``, ``cpus_per_node``,
                ``gpus_per_node``, ``memory_gb``, ``gpu_type`` as ``"A100"`` or
                ``"H100"``), ``command``, ``timeout`` (seconds), ``dependencies``,
                ``environment``, ``labels``.
            submit: Submit at once (the job goes straight to QUEUED). Leave False to
                upload inputs first, then :meth:`Job.submit`.
            request_id: Idempotency key: a call repeating the ``request_id`` and the
                request returns the job the first call created instead of a second job.
                When None, the SDK makes up a UUID for this call, which protects its own
                retries of the call only; pass your own key to make retrying
                ``create_job`` yourself safe.

        Returns:
            The new job, CREATED (or QUEUED with ``submit``).

        Raises:
            ValueError: if ``spec`` does not have the shape of a JobSpec (the message
                names the field). Values are checked by the server.
            InvalidArgument: if the server refuses the spec (``field_violations`` says why).
            AlreadyExists: if ``request_id`` was used before with a different request.
            ResourceExhausted: with ``submit``, if a quota would be exceeded.
        """
        request = _jobs.create_job_request(spec, submit=submit, request_id=request_id)
        return self._job(self._unary(self._job_service().CreateJob, request).job)

    def batch_create_jobs(
        self,
        specs: Sequence[JobSpecLike],
        *,
        submit: bool = False,
        request_ids: Sequence[str] | None = None,
    ) -> list[Job | APIException]:
        """Create up to 1,000 jobs in one call; each succeeds or fails on its own.

        Args:
            specs: Job specs, as for :meth:`create_job`.
            submit: Submit every created job at once.
            request_ids: One idempotency key per spec, to make retrying the batch safe;
                by default the SDK makes up one UUID per spec (see :meth:`create_job`).

        Returns:
            One result per spec, in order: the created :class:`Job`, or the
            :class:`APIException` that ``create_job`` would have raised for that spec
            (returned, not raised).

        Raises:
            ValueError: for more than 1,000 specs, a malformed spec (the message gives
                its index and field), or ``request_ids`` not matching ``specs``.
            APIException: if the call as a whole fails (e.g. ResourceExhausted).
        """
        if not specs:
            return []
        request = _jobs.batch_create_jobs_request(specs, submit=submit, request_ids=request_ids)
        response = self._unary(self._job_service().BatchCreateJobs, request)
        return _jobs.batch_results(response, self._job)

    def get_job(self, job_id: str) -> Job:
        """Fetch a job.

        Raises:
            NotFound: if there is no such job (or it belongs to someone else).
        """
        return self._job(
            self._unary(self._job_service().GetJob, job_pb2.GetJobRequest(id=job_id)).job
        )

    def submit_job(self, job_id: str) -> Job:
        """Submit a CREATED job: it becomes QUEUED and runs when it can. Submitting a
        job that was submitted before returns it unchanged.

        Raises:
            NotFound: if there is no such job.
            FailedPrecondition: if the job was cancelled before it was submitted.
            ResourceExhausted: if a quota would be exceeded (``quota_violations`` names it).
        """
        request = job_pb2.SubmitJobRequest(id=job_id)
        return self._job(self._unary(self._job_service().SubmitJob, request).job)

    def cancel_job(self, job_id: str) -> Job:
        """Cancel a job. A CREATED or QUEUED job is CANCELLED at once; a RUNNING one is
        signalled and still shows RUNNING until the executor confirms it stopped (use
        :meth:`Job.wait`). Cancelling a job that is done returns it unchanged.

        Raises:
            NotFound: if there is no such job.
        """
        request = job_pb2.CancelJobRequest(id=job_id)
        return self._job(self._unary(self._job_service().CancelJob, request).job)

    def list_jobs(
        self,
        *,
        states: Iterable[str] | None = None,
        name_prefix: str | None = None,
        labels: Mapping[str, str] | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        page_size: int = 100,
    ) -> Generator[Job]:
        """The caller's jobs, newest first, matching every filter given.

        Pages are fetched as the iteration reaches them, so stopping early costs no
        further calls.

        Args:
            states: Only jobs in one of these states, e.g. ``["QUEUED", "RUNNING"]``.
            name_prefix: Only jobs whose ``job_name`` starts with this.
            labels: Only jobs carrying all of these labels with these values.
            created_after: Only jobs created at or after this (timezone-aware) time.
            created_before: Only jobs created strictly before this time.
            page_size: Jobs fetched per call (at most 1,000).

        Raises:
            ValueError: for an unknown state or a naive datetime (at once).
            APIException: while iterating, if fetching a page fails.
        """
        request = _jobs.list_jobs_request(
            states=states,
            name_prefix=name_prefix,
            labels=labels,
            created_after=created_after,
            created_before=created_before,
            page_size=page_size,
        )
        return self._list_pages(request)

    def watch_jobs(
        self, job_ids: Iterable[str] | None = None, *, after_sequence: int = 0
    ) -> Generator[JobEvent[Job]]:
        """Follow jobs' state changes as they happen.

        Without ``after_sequence`` the events begin with one ``"SNAPSHOT"`` per watched
        job (its current state) and a ``"SNAPSHOT_COMPLETE"``; then one ``"TRANSITION"``
        per state change. With ``after_sequence`` (the ``sequence`` of a
        ``"SNAPSHOT_COMPLETE"`` or ``"TRANSITION"`` received before) they are the
        transitions after it, replayed and then live.

        The stream has no deadline. If the server restarts (UNAVAILABLE), the SDK
        reconnects with exponential backoff and resumes after the last transition
        received, so no transition is lost or repeated; if the break came during the
        snapshot, the snapshot starts over. After 5 failed reconnects in a row the
        ``Unavailable`` error is raised. With ``job_ids`` the stream ends once every
        job is done; without, it runs until you stop iterating (close the iterator to
        end the call at once).

        Args:
            job_ids: Jobs to watch (at most 1,000); None watches all of your jobs,
                including ones created later.
            after_sequence: Resume after this sequence; 0 starts with a snapshot.

        Raises:
            NotFound: if a job in ``job_ids`` does not exist.
            OutOfRange: if ``after_sequence`` is older than the history the server
                keeps: watch again without it.
            Unavailable: if reconnecting failed 5 times in a row.
        """
        return self._watch(_watch.watch_request(job_ids, after_sequence), deadline=None)

    def read_logs(
        self,
        job_id: str,
        stream: LogStreamName = "stdout",
        *,
        offset: int = 0,
        follow: bool = False,
    ) -> Generator[bytes]:
        """A job's output, as chunks of raw bytes (not necessarily whole lines or UTF-8).

        Args:
            job_id: The job.
            stream: ``"stdout"`` or ``"stderr"``.
            offset: Byte offset to start from.
            follow: Keep reading as the job writes, until it is done and everything was
                sent; without a deadline. Without ``follow`` the output ends at the
                current end of the log, within the client's timeout.

        Raises:
            ValueError: for a stream other than ``"stdout"`` and ``"stderr"`` (at once).
            NotFound: if there is no such job.
            OutOfRange: if ``offset`` is beyond the end of a log that can no longer grow.
        """
        request = _jobs.read_logs_request(job_id, stream, offset=offset, follow=follow)
        timeout: CallTimeout = None if follow else USE_CLIENT_DEFAULT
        return self._log_data(
            self._server_stream(self._job_service().ReadJobLogs, request, timeout=timeout)
        )

    def create_ml_task(
        self,
        framework: str,
        nodes: int = 1,
        command: str = "",
        *,
        job_name: str | None = None,
        cpus_per_node: int | None = None,
        gpus_per_node: int | None = None,
        memory_gb: int | None = None,
        gpu_type: str | None = None,
        timeout: int | None = None,
        environment: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        dependencies: Sequence[str] | None = None,
        request_id: str | None = None,
    ) -> MLTask:
        """Create and submit a machine-learning task, as in the platform guide::

            task = client.create_ml_task(
                framework="pytorch", nodes=4, command="python train.py --batch_size 256"
            )
            task.wait_for_completion()
            print(task.get_metrics())

        A task is a job labelled ``framework=<framework>`` whose command sees the
        environment variable ``ML_FRAMEWORK=<framework>``; the framework itself must be
        installed where the job runs. The job reports metrics by appending JSON lines
        (``{"loss": 0.12}``) to the file named by ``DEEPSEEK_METRICS_FILE``.

        Args:
            framework: ``"pytorch"``, ``"tensorflow"``, ``"jax"``, ...: 1 to 63
                characters of ``[a-z0-9_-]`` (case is folded).
            nodes: Compute nodes (1 to 1024).
            command: The command line, run by ``/bin/sh -c`` in the job's working
                directory.
            job_name: Default: ``"<framework>-task"``.
            cpus_per_node, gpus_per_node, memory_gb, gpu_type, timeout: As in a job's
                ``resource_spec`` and ``timeout``; the server's defaults when None.
            environment, labels, dependencies: As in a job spec (the framework's label
                and variable are added).
            request_id: Idempotency key, as for :meth:`create_job`.

        Returns:
            The task, submitted (QUEUED).

        Raises:
            ValueError: a malformed ``framework`` or spec.
            InvalidArgument: the server refuses the spec (e.g. more nodes than any
                partition has).
            ResourceExhausted: a quota would be exceeded.
        """
        spec = ml_task_spec(
            framework,
            nodes,
            command,
            job_name=job_name,
            cpus_per_node=cpus_per_node,
            gpus_per_node=gpus_per_node,
            memory_gb=memory_gb,
            gpu_type=gpu_type,
            timeout=timeout,
            environment=environment,
            labels=labels,
            dependencies=dependencies,
        )
        request = _jobs.create_job_request(spec, submit=True, request_id=request_id)
        return MLTask(self._unary(self._job_service().CreateJob, request).job, self)

    def get_capabilities(self) -> Capabilities:
        """What the executor can run: its partitions and their limits."""
        request = job_pb2.GetCapabilitiesRequest()
        return Capabilities.from_proto(self._unary(self._job_service().GetCapabilities, request))

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
    ) -> Generator[_Response]:
        return _calls.server_stream(method, request, self._call_timeout(timeout))

    def _job_service(self) -> job_pb2_grpc.JobServiceStub:
        return self._stub(job_pb2_grpc.JobServiceStub)

    def _job(self, proto: job_pb2.Job) -> Job:
        return Job(proto, self)

    def _list_pages(self, request: job_pb2.ListJobsRequest | None) -> Generator[Job]:
        while request is not None:
            response = self._unary(self._job_service().ListJobs, request)
            yield from map(self._job, response.jobs)
            request = _jobs.next_page_request(request, response)

    def _log_data(self, responses: Generator[job_pb2.ReadJobLogsResponse]) -> Generator[bytes]:
        with contextlib.closing(responses):
            for response in responses:
                yield response.data

    def _watch(
        self, request: job_pb2.WatchJobsRequest, deadline: float | None
    ) -> Generator[JobEvent[Job]]:
        resumption = _watch.Resumption(request, self._watch_backoff, deadline)
        while True:
            events = self._server_stream(
                self._job_service().WatchJobs, resumption.request(), timeout=resumption.timeout()
            )
            try:
                with contextlib.closing(events):
                    for response in events:
                        resumption.received(response.event)
                        yield JobEvent.from_proto(response.event, self._job)
            except APIException as err:
                time.sleep(resumption.delay_after(err))
            else:
                return

    def _wait_for_job(self, job_id: str, timeout: float | None) -> Job:
        request = _watch.watch_request([job_id], after_sequence=0)
        try:
            with contextlib.closing(self._watch(request, _watch.deadline_after(timeout))) as events:
                for event in events:
                    if event.job is not None and event.job.is_done:
                        return event.job
        except DeadlineExceeded as err:
            raise TimeoutError(f"job {job_id} is not done after {timeout} seconds") from err
        # The server ends the stream once the job is done and its last transition sent.
        return self.get_job(job_id)
