"""JobService over gRPC: each method converts, calls the job domain once, converts back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc.aio

from deepseek.hpc.v1 import job_pb2, job_pb2_grpc
from deepseek_server.context import caller
from deepseek_server.errors import FieldViolation, GatewayError, InvalidArgument
from deepseek_server.interceptors.errors import status_from_error
from deepseek_server.jobs.model import Job
from deepseek_server.jobs.service import MAX_BATCH, JobService
from deepseek_server.transport import job_messages as messages

Context = grpc.aio.ServicerContext[Any, Any]


class JobServicer(job_pb2_grpc.JobServiceServicer):
    """The JobService RPCs for the caller's jobs."""

    def __init__(self, jobs: JobService) -> None:
        self._jobs = jobs

    async def CreateJob(
        self, request: job_pb2.CreateJobRequest, context: Context
    ) -> job_pb2.CreateJobResponse:
        job = await self._jobs.create_one(caller().user_id, messages.create_request(request))
        return job_pb2.CreateJobResponse(job=messages.job_to_proto(job))

    async def BatchCreateJobs(
        self, request: job_pb2.BatchCreateJobsRequest, context: Context
    ) -> job_pb2.BatchCreateJobsResponse:
        count = len(request.requests)
        if not 1 <= count <= MAX_BATCH:
            raise InvalidArgument(
                [FieldViolation("requests", f"must hold 1 to {MAX_BATCH} items, got {count}")]
            )
        results = await self._jobs.create(
            caller().user_id, [messages.create_request(item) for item in request.requests]
        )
        return job_pb2.BatchCreateJobsResponse(results=[_batch_result(r) for r in results])

    async def SubmitJob(
        self, request: job_pb2.SubmitJobRequest, context: Context
    ) -> job_pb2.SubmitJobResponse:
        job = await self._jobs.submit(caller().user_id, request.id)
        return job_pb2.SubmitJobResponse(job=messages.job_to_proto(job))

    async def GetJob(
        self, request: job_pb2.GetJobRequest, context: Context
    ) -> job_pb2.GetJobResponse:
        job = await self._jobs.get(caller().user_id, request.id)
        return job_pb2.GetJobResponse(job=messages.job_to_proto(job))

    async def ListJobs(
        self, request: job_pb2.ListJobsRequest, context: Context
    ) -> job_pb2.ListJobsResponse:
        unknown = messages.unknown_states(request)
        if unknown:
            raise InvalidArgument(
                [FieldViolation("states", f"unknown or unspecified job state {unknown[0]}")]
            )
        page = await self._jobs.list_jobs(
            caller().user_id, messages.list_filter(request), request.page_size, request.page_token
        )
        return job_pb2.ListJobsResponse(
            jobs=[messages.job_to_proto(job) for job in page.jobs],
            next_page_token=page.next_page_token,
        )

    async def CancelJob(
        self, request: job_pb2.CancelJobRequest, context: Context
    ) -> job_pb2.CancelJobResponse:
        job = await self._jobs.cancel(caller().user_id, request.id)
        return job_pb2.CancelJobResponse(job=messages.job_to_proto(job))

    async def WatchJobs(
        self, request: job_pb2.WatchJobsRequest, context: Context
    ) -> AsyncIterator[job_pb2.WatchJobsResponse]:
        items = self._jobs.watch(caller().user_id, list(request.job_ids), request.after_sequence)
        async for item in items:
            yield messages.watch_item_to_proto(item)

    async def ReadJobLogs(
        self, request: job_pb2.ReadJobLogsRequest, context: Context
    ) -> AsyncIterator[job_pb2.ReadJobLogsResponse]:
        stream = messages.LOG_STREAMS.get(request.stream)
        if stream is None:
            raise InvalidArgument([FieldViolation("stream", "must be STDOUT or STDERR")])
        chunks = self._jobs.read_logs(
            caller().user_id, request.id, stream, request.offset, request.follow
        )
        async for offset, data in chunks:
            yield job_pb2.ReadJobLogsResponse(offset=offset, data=data)

    async def GetCapabilities(
        self, request: job_pb2.GetCapabilitiesRequest, context: Context
    ) -> job_pb2.GetCapabilitiesResponse:
        return messages.capabilities_to_proto(self._jobs.capabilities)


def _batch_result(result: Job | GatewayError) -> job_pb2.BatchCreateJobsResult:
    if isinstance(result, GatewayError):
        return job_pb2.BatchCreateJobsResult(error=status_from_error(result))
    return job_pb2.BatchCreateJobsResult(job=messages.job_to_proto(result))
