"""The asyncio client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar, cast

import grpc

from deepseek.hpc.v1 import job_pb2, job_pb2_grpc
from deepseek_api import _calls, _health, _jobs, _transport, _watch
from deepseek_api._async_accounts import AsyncAccountMethods
from deepseek_api._async_data import AsyncDataMethods
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
from deepseek_api._job import AsyncJob, LogStreamName
from deepseek_api._ml import AsyncMLTask, ml_task_spec
from deepseek_api._specs import JobSpecLike
from deepseek_api._tokens import AsyncTokenCache
from deepseek_api._watch import JobEvent

_Request = TypeVar("_Request")
_Response = TypeVar("_Response")
_Stub = TypeVar("_Stub")


class AsyncDeepSeekClient(ClientCore, AsyncDataMethods, AsyncAccountMethods):
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
        # Opened lazily: a grpc.aio channel binds to the event loop running when it is made.
        self._channels: _transport.AioChannels | None = None
        self._stubs: dict[Callable[[grpc.aio.Channel], Any], Any] = {}

    async def check_health(self, service: str = "") -> str:
        """Ask the server's standard health service whether ``service`` is serving.

        See :meth:`DeepSeekClient.check_health`.
        """
        response = await self._unary(
            self._stub(_health.HealthStub).Check, _health.health_check_request(service)
        )
        return _health.serving_status(response)

    async def create_job(
        self, spec: JobSpecLike, *, submit: bool = False, request_id: str | None = None
    ) -> AsyncJob:
        """Create a job. See :meth:`DeepSeekClient.create_job`."""
        request = _jobs.create_job_request(spec, submit=submit, request_id=request_id)
        return self._job((await self._unary(self._job_service().CreateJob, request)).job)

    async def batch_create_jobs(
        self,
        specs: Sequence[JobSpecLike],
        *,
        submit: bool = False,
        request_ids: Sequence[str] | None = None,
    ) -> list[AsyncJob | APIException]:
        """Create up to 1,000 jobs in one call. See :meth:`DeepSeekClient.batch_create_jobs`."""
        if not specs:
            return []
        request = _jobs.batch_create_jobs_request(specs, submit=submit, request_ids=request_ids)
        response = await self._unary(self._job_service().BatchCreateJobs, request)
        return _jobs.batch_results(response, self._job)

    async def get_job(self, job_id: str) -> AsyncJob:
        """Fetch a job. See :meth:`DeepSeekClient.get_job`."""
        request = job_pb2.GetJobRequest(id=job_id)
        return self._job((await self._unary(self._job_service().GetJob, request)).job)

    async def submit_job(self, job_id: str) -> AsyncJob:
        """Submit a CREATED job. See :meth:`DeepSeekClient.submit_job`."""
        request = job_pb2.SubmitJobRequest(id=job_id)
        return self._job((await self._unary(self._job_service().SubmitJob, request)).job)

    async def cancel_job(self, job_id: str) -> AsyncJob:
        """Cancel a job. See :meth:`DeepSeekClient.cancel_job`."""
        request = job_pb2.CancelJobRequest(id=job_id)
        return self._job((await self._unary(self._job_service().CancelJob, request)).job)

    def list_jobs(
        self,
        *,
        states: Iterable[str] | None = None,
        name_prefix: str | None = None,
        labels: Mapping[str, str] | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        page_size: int = 100,
    ) -> AsyncGenerator[AsyncJob]:
        """The caller's jobs, newest first, as an async iterator fetching pages lazily.
        See :meth:`DeepSeekClient.list_jobs`."""
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
    ) -> AsyncGenerator[JobEvent[AsyncJob]]:
        """Follow jobs' state changes, resuming across server restarts, as an async
        iterator. See :meth:`DeepSeekClient.watch_jobs`."""
        return self._watch(_watch.watch_request(job_ids, after_sequence), deadline=None)

    def read_logs(
        self,
        job_id: str,
        stream: LogStreamName = "stdout",
        *,
        offset: int = 0,
        follow: bool = False,
    ) -> AsyncGenerator[bytes]:
        """A job's output as an async iterator of byte chunks.
        See :meth:`DeepSeekClient.read_logs`."""
        request = _jobs.read_logs_request(job_id, stream, offset=offset, follow=follow)
        timeout: CallTimeout = None if follow else USE_CLIENT_DEFAULT
        return self._log_data(
            self._server_stream(self._job_service().ReadJobLogs, request, timeout=timeout)
        )

    async def create_ml_task(
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
        timeout: int | None = None,  # noqa: ASYNC109 (the job's time limit)
        environment: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        dependencies: Sequence[str] | None = None,
        request_id: str | None = None,
    ) -> AsyncMLTask:
        """Create and submit a machine-learning task.
        See :meth:`DeepSeekClient.create_ml_task`."""
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
        return AsyncMLTask((await self._unary(self._job_service().CreateJob, request)).job, self)

    async def get_capabilities(self) -> Capabilities:
        """What the executor can run. See :meth:`DeepSeekClient.get_capabilities`."""
        request = job_pb2.GetCapabilitiesRequest()
        return Capabilities.from_proto(
            await self._unary(self._job_service().GetCapabilities, request)
        )

    async def close(self) -> None:
        """Close the channel, cancelling calls in flight. Closing again does nothing."""
        if self._closed:
            return
        self._closed = True
        channels, self._channels = self._channels, None
        self._stubs.clear()
        if channels is not None:
            await channels.close()

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
        if self._channels is None:
            self._channels = _transport.open_aio(self._channel_spec, self._layers)
        stub = self._stubs.get(factory)
        if stub is None:
            stub = self._stubs[factory] = factory(self._channels.calls)
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
    ) -> AsyncGenerator[_Response]:
        return _calls.server_stream_async(method, request, self._call_timeout(timeout))

    @property
    def _token_cache(self) -> AsyncTokenCache | None:
        return None if self._channels is None else self._channels.token_cache

    def _job_service(self) -> job_pb2_grpc.JobServiceAsyncStub:
        return self._stub(job_pb2_grpc.JobServiceStub)

    def _job(self, proto: job_pb2.Job) -> AsyncJob:
        return AsyncJob(proto, self)

    async def _list_pages(
        self, request: job_pb2.ListJobsRequest | None
    ) -> AsyncGenerator[AsyncJob]:
        while request is not None:
            response = await self._unary(self._job_service().ListJobs, request)
            for job in response.jobs:
                yield self._job(job)
            request = _jobs.next_page_request(request, response)

    async def _log_data(
        self, responses: AsyncGenerator[job_pb2.ReadJobLogsResponse]
    ) -> AsyncGenerator[bytes]:
        async with contextlib.aclosing(responses):
            async for response in responses:
                yield response.data

    async def _watch(
        self, request: job_pb2.WatchJobsRequest, deadline: float | None
    ) -> AsyncGenerator[JobEvent[AsyncJob]]:
        resumption = _watch.Resumption(request, self._watch_backoff, deadline)
        while True:
            events = self._server_stream(
                self._job_service().WatchJobs, resumption.request(), timeout=resumption.timeout()
            )
            try:
                async with contextlib.aclosing(events):
                    async for response in events:
                        resumption.received(response.event)
                        yield JobEvent.from_proto(response.event, self._job)
            except APIException as err:
                await asyncio.sleep(resumption.delay_after(err))
            else:
                return

    async def _wait_for_job(self, job_id: str, timeout: float | None) -> AsyncJob:  # noqa: ASYNC109
        request = _watch.watch_request([job_id], after_sequence=0)
        try:
            async with contextlib.aclosing(
                self._watch(request, _watch.deadline_after(timeout))
            ) as events:
                async for event in events:
                    if event.job is not None and event.job.is_done:
                        return event.job
        except DeadlineExceeded as err:
            raise TimeoutError(f"job {job_id} is not done after {timeout} seconds") from err
        # The server ends the stream once the job is done and its last transition sent.
        return await self.get_job(job_id)
