"""A user sees and acts on only their own jobs: another user's job is NOT_FOUND."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import grpc
import grpc.aio
import pytest

import deepseek_api as ds
from deepseek.hpc.v1 import common_pb2, job_pb2, job_pb2_grpc
from tests.integration.auth.conftest import Client


async def _not_found(call: Awaitable[object]) -> ds.APIException:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return ds.from_rpc_error(raised.value)


async def test_another_users_job_is_not_found_for_every_operation_and_not_listed(
    jobs: job_pb2_grpc.JobServiceAsyncStub, make_client: Callable[..., Awaitable[Client]]
) -> None:
    alice, bob = await make_client("alice"), await make_client("bob")
    spec = job_pb2.JobSpec(
        job_name="mine",
        command="echo secret",
        resource_spec=common_pb2.ResourceSpec(nodes=1, cpus_per_node=1),
    )
    created = await jobs.CreateJob(
        job_pb2.CreateJobRequest(spec=spec), metadata=alice.metadata, timeout=10
    )
    job_id = created.job.id

    async def drain(call: grpc.aio.UnaryStreamCall) -> list[object]:  # type: ignore[type-arg]
        return [item async for item in call]

    as_bob = bob.metadata
    errors = {
        "GetJob": await _not_found(
            jobs.GetJob(job_pb2.GetJobRequest(id=job_id), metadata=as_bob, timeout=10)
        ),
        "SubmitJob": await _not_found(
            jobs.SubmitJob(job_pb2.SubmitJobRequest(id=job_id), metadata=as_bob, timeout=10)
        ),
        "CancelJob": await _not_found(
            jobs.CancelJob(job_pb2.CancelJobRequest(id=job_id), metadata=as_bob, timeout=10)
        ),
        "WatchJobs": await _not_found(
            drain(
                jobs.WatchJobs(
                    job_pb2.WatchJobsRequest(job_ids=[job_id]), metadata=as_bob, timeout=10
                )
            )
        ),
        "ReadJobLogs": await _not_found(
            drain(
                jobs.ReadJobLogs(
                    job_pb2.ReadJobLogsRequest(id=job_id, stream=job_pb2.LOG_STREAM_STDOUT),
                    metadata=as_bob,
                    timeout=10,
                )
            )
        ),
    }
    missing = await _not_found(
        jobs.GetJob(job_pb2.GetJobRequest(id="job-doesnotexist"), metadata=as_bob, timeout=10)
    )
    bobs_list = await jobs.ListJobs(job_pb2.ListJobsRequest(), metadata=as_bob, timeout=10)
    alices_job = await jobs.GetJob(
        job_pb2.GetJobRequest(id=job_id), metadata=alice.metadata, timeout=10
    )

    for method, error in errors.items():
        assert isinstance(error, ds.NotFound), method
        assert error.message == f"job {job_id} not found", method
        assert error.reason == missing.reason, method
        assert error.resource_info is not None
        assert error.resource_info.resource_type == "job"
    assert list(bobs_list.jobs) == []
    assert alices_job.job.state == job_pb2.JOB_STATE_CREATED  # bob's cancel and submit did nothing


async def test_a_watch_of_all_jobs_shows_only_the_callers(
    jobs: job_pb2_grpc.JobServiceAsyncStub, make_client: Callable[..., Awaitable[Client]]
) -> None:
    alice, bob = await make_client("alice"), await make_client("bob")
    spec = job_pb2.JobSpec(
        job_name="x",
        command="true",
        resource_spec=common_pb2.ResourceSpec(nodes=1, cpus_per_node=1),
    )
    await jobs.CreateJob(job_pb2.CreateJobRequest(spec=spec), metadata=alice.metadata, timeout=10)
    mine = await jobs.CreateJob(
        job_pb2.CreateJobRequest(spec=spec), metadata=bob.metadata, timeout=10
    )

    seen = []
    call = jobs.WatchJobs(job_pb2.WatchJobsRequest(), metadata=bob.metadata, timeout=10)
    async for response in call:
        if response.event.type == job_pb2.JOB_EVENT_TYPE_SNAPSHOT_COMPLETE:
            break
        seen.append(response.event.job.id)
    call.cancel()

    assert seen == [mine.job.id]
