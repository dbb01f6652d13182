"""One record per call, whatever its shape and outcome, with the call's facts."""

from __future__ import annotations

import asyncio
import collections
from typing import Any

import grpc
import grpc.aio

from deepseek.hpc.v1 import common_pb2, job_pb2, job_pb2_grpc
from deepseek_server.app import Gateway
from deepseek_server.audit import RecordFilter
from tests.integration.audit.conftest import all_records, request_id


def spec(command: str = "true", nodes: int = 1) -> job_pb2.JobSpec:
    return job_pb2.JobSpec(
        job_name="audit",
        command=command,
        resource_spec=common_pb2.ResourceSpec(nodes=nodes, cpus_per_node=1),
    )


async def test_a_burst_of_concurrent_calls_gives_exactly_one_record_each(
    gateway: Gateway, jobs: job_pb2_grpc.JobServiceAsyncStub
) -> None:
    calls: dict[str, tuple[str, Any]] = {}
    call: Any
    for index in range(200):
        kind = ("create", "missing", "invalid", "list", "capabilities")[index % 5]
        name = f"burst-{index}"
        if kind == "create":
            call = jobs.CreateJob(job_pb2.CreateJobRequest(spec=spec()), metadata=request_id(name))
        elif kind == "missing":
            call = jobs.GetJob(job_pb2.GetJobRequest(id="job_nope"), metadata=request_id(name))
        elif kind == "invalid":
            call = jobs.CreateJob(
                job_pb2.CreateJobRequest(spec=spec(nodes=0)), metadata=request_id(name)
            )
        elif kind == "list":
            call = jobs.ListJobs(job_pb2.ListJobsRequest(), metadata=request_id(name))
        else:
            call = jobs.GetCapabilities(job_pb2.GetCapabilitiesRequest(), metadata=request_id(name))
        calls[name] = (kind, call)

    outcomes = await asyncio.gather(*(c for _, c in calls.values()), return_exceptions=True)

    by_request = collections.defaultdict(list)
    for record in await all_records(gateway):
        by_request[record.request_id].append(record)
    expected_status = {
        "create": "OK", "missing": "NOT_FOUND", "invalid": "INVALID_ARGUMENT", "list": "OK",
        "capabilities": "OK",
    }  # fmt: skip
    for (name, (kind, _)), outcome in zip(calls.items(), outcomes, strict=True):
        assert len(by_request[name]) == 1, name
        record = by_request[name][0]
        assert record.status == expected_status[kind], name
        assert record.user_id == "local"
        assert record.ip_address == "127.0.0.1"
        assert record.duration_ms > 0
        if kind == "create":
            assert isinstance(outcome, job_pb2.CreateJobResponse)
            assert (record.action, record.resource_id) == ("job.create", outcome.job.id)
        if kind == "missing":
            assert isinstance(outcome, grpc.aio.AioRpcError)
            assert (record.action, record.resource_id, record.status_code) == (
                "job.get", "job_nope", 5,
            )  # fmt: skip
    sequences = [r.sequence for r in await all_records(gateway)]
    assert sequences == list(range(1, len(sequences) + 1))


async def test_a_stream_records_messages_and_bytes_each_way(
    gateway: Gateway, jobs: job_pb2_grpc.JobServiceAsyncStub
) -> None:
    created = await jobs.CreateJob(job_pb2.CreateJobRequest(spec=spec("seq 1 20000"), submit=True))
    job_id = created.job.id
    watch = jobs.WatchJobs(job_pb2.WatchJobsRequest(job_ids=[job_id]), metadata=request_id("w"))
    watched = [message async for message in watch]
    logs_request = job_pb2.ReadJobLogsRequest(id=job_id, stream=job_pb2.LOG_STREAM_STDOUT)
    chunks = [m async for m in jobs.ReadJobLogs(logs_request, metadata=request_id("logs"))]

    records = {r.request_id: r for r in await all_records(gateway)}
    logs, watching = records["logs"], records["w"]
    assert (logs.action, logs.resource_id, logs.status) == ("job.read_logs", job_id, "OK")
    assert (logs.messages_received, logs.bytes_received) == (1, logs_request.ByteSize())
    assert logs.messages_sent == len(chunks) > 1
    assert logs.bytes_sent == sum(chunk.ByteSize() for chunk in chunks)
    assert watching.messages_sent == len(watched)
    assert watching.bytes_sent == sum(message.ByteSize() for message in watched)


async def test_a_call_the_client_abandons_is_recorded_as_cancelled(
    gateway: Gateway, jobs: job_pb2_grpc.JobServiceAsyncStub
) -> None:
    created = await jobs.CreateJob(job_pb2.CreateJobRequest(spec=spec()))
    watch = jobs.WatchJobs(
        job_pb2.WatchJobsRequest(job_ids=[created.job.id]), metadata=request_id("gone")
    )
    await watch.read()  # the snapshot: the stream is open
    watch.cancel()

    async with asyncio.timeout(10):
        async for record in gateway.audit.tail(RecordFilter(), 0):
            if record.request_id == "gone":  # written once the server sees the cancel
                break
    assert (record.status, record.action) == ("CANCELLED", "job.watch")


async def test_job_state_changes_are_recorded_as_system_actions(
    gateway: Gateway, jobs: job_pb2_grpc.JobServiceAsyncStub
) -> None:
    created = await jobs.CreateJob(job_pb2.CreateJobRequest(spec=spec("exit 3"), submit=True))
    async for _ in jobs.WatchJobs(job_pb2.WatchJobsRequest(job_ids=[created.job.id])):
        pass
    await gateway.jobs.close()  # nothing else may change meanwhile; the records are flushed
    await gateway.audit.close()

    changes = [
        r for r in await all_records(gateway)
        if r.action == "job.state_change" and r.resource_id == created.job.id
    ]  # fmt: skip
    assert [r.detail.split(" (")[0] for r in changes] == ["QUEUED -> RUNNING", "RUNNING -> FAILED"]
    assert changes[-1].detail == "RUNNING -> FAILED (NON_ZERO_EXIT)"
    assert all(r.system and r.user_id == "local" and not r.method for r in changes)
