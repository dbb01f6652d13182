"""The SDK's job surface against a scripted JobService, with both clients.

The servicer here records every request and answers from a script the test sets up, so
the tests can break streams where they choose. Sync clients run in worker threads
(asyncio.to_thread), leaving the event loop free to serve them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import grpc
import pytest
from google.protobuf import any_pb2, timestamp_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

import deepseek_api as ds
from deepseek.hpc.v1 import common_pb2, job_pb2, job_pb2_grpc
from deepseek_api._watch import Backoff

_M = TypeVar("_M", bound=Message)
Context = grpc.aio.ServicerContext[Any, Any]

SPEC: dict[str, Any] = {
    "job_name": "molecular_dynamics_001",
    "resource_spec": {"nodes": 4, "cpus_per_node": 32, "gpus_per_node": 2, "memory_gb": 256},
    "command": "mpirun -np 128 ./lammps_simulation",
    "timeout": 86400,
    "dependencies": ["dataset_20230801"],
}
FAST_BACKOFF = Backoff(initial=0.01, multiplier=2, maximum=0.05, attempts=3)
FAST_RETRY = ds.RetryConfig(initial_backoff=0.001, max_backoff=0.01)


@dataclass
class Watch:
    """What one WatchJobs call sends: these events, then ``then``: ``"end"`` (the
    stream ends), ``"hang"`` (it stays open) or a status code to abort with."""

    events: list[job_pb2.JobEvent]
    then: str | grpc.StatusCode = "end"


@dataclass
class ScriptedJobService(job_pb2_grpc.JobServiceServicer):
    """JobService answering from a script, recording each request and its deadline."""

    jobs: dict[str, job_pb2.Job] = field(default_factory=dict)
    pages: dict[str, job_pb2.ListJobsResponse] = field(default_factory=dict)
    batch_results: list[job_pb2.BatchCreateJobsResult] = field(default_factory=list)
    watches: list[Watch] = field(default_factory=list)
    log_chunks: list[bytes] = field(default_factory=list)
    capabilities: job_pb2.GetCapabilitiesResponse = field(
        default_factory=job_pb2.GetCapabilitiesResponse
    )
    requests: list[Message] = field(default_factory=list)
    deadlines: dict[str, float | None] = field(default_factory=dict)
    watch_ended: asyncio.Event = field(default_factory=asyncio.Event)

    def received(self, kind: type[_M]) -> list[_M]:
        """The requests of one type, in the order they came."""
        return [request for request in self.requests if isinstance(request, kind)]

    def _note(self, request: Message, context: Context) -> None:
        self.requests.append(request)
        self.deadlines[type(request).__name__] = context.time_remaining()

    async def _job(self, job_id: str, context: Context) -> job_pb2.Job:
        if job_id not in self.jobs:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"job {job_id} not found")
        return self.jobs[job_id]

    async def CreateJob(
        self, request: job_pb2.CreateJobRequest, context: Context
    ) -> job_pb2.CreateJobResponse:
        self._note(request, context)
        job = job_pb2.Job(
            id=f"job-{len(self.jobs) + 1}",
            spec=request.spec,
            state=job_pb2.JOB_STATE_QUEUED if request.submit else job_pb2.JOB_STATE_CREATED,
            request_id=request.request_id,
        )
        self.jobs[job.id] = job
        return job_pb2.CreateJobResponse(job=job)

    async def BatchCreateJobs(
        self, request: job_pb2.BatchCreateJobsRequest, context: Context
    ) -> job_pb2.BatchCreateJobsResponse:
        self._note(request, context)
        return job_pb2.BatchCreateJobsResponse(results=self.batch_results)

    async def GetJob(
        self, request: job_pb2.GetJobRequest, context: Context
    ) -> job_pb2.GetJobResponse:
        self._note(request, context)
        return job_pb2.GetJobResponse(job=await self._job(request.id, context))

    async def SubmitJob(
        self, request: job_pb2.SubmitJobRequest, context: Context
    ) -> job_pb2.SubmitJobResponse:
        self._note(request, context)
        job = await self._job(request.id, context)
        job.state = job_pb2.JOB_STATE_QUEUED
        return job_pb2.SubmitJobResponse(job=job)

    async def CancelJob(
        self, request: job_pb2.CancelJobRequest, context: Context
    ) -> job_pb2.CancelJobResponse:
        self._note(request, context)
        job = await self._job(request.id, context)
        job.state = job_pb2.JOB_STATE_CANCELLED
        job.state_reason = job_pb2.JOB_STATE_REASON_CANCELLED_BY_USER
        return job_pb2.CancelJobResponse(job=job)

    async def ListJobs(
        self, request: job_pb2.ListJobsRequest, context: Context
    ) -> job_pb2.ListJobsResponse:
        self._note(request, context)
        return self.pages[request.page_token]

    async def WatchJobs(
        self, request: job_pb2.WatchJobsRequest, context: Context
    ) -> AsyncIterator[job_pb2.WatchJobsResponse]:
        self._note(request, context)
        if not self.watches:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "no watch scripted")
        watch = self.watches.pop(0)
        try:
            for event in watch.events:
                yield job_pb2.WatchJobsResponse(event=event)
            if watch.then == "hang":
                await asyncio.Event().wait()
            elif isinstance(watch.then, grpc.StatusCode):
                await context.abort(watch.then, "the gateway is shutting down")
        finally:
            # Reached when a hanging stream is cancelled by the client, too.
            self.watch_ended.set()

    async def ReadJobLogs(
        self, request: job_pb2.ReadJobLogsRequest, context: Context
    ) -> AsyncIterator[job_pb2.ReadJobLogsResponse]:
        self._note(request, context)
        offset = request.offset
        for chunk in self.log_chunks:
            yield job_pb2.ReadJobLogsResponse(offset=offset, data=chunk)
            offset += len(chunk)

    async def GetCapabilities(
        self, request: job_pb2.GetCapabilitiesRequest, context: Context
    ) -> job_pb2.GetCapabilitiesResponse:
        self._note(request, context)
        return self.capabilities


@dataclass
class Api:
    """Either client behind one awaitable surface: a sync client's blocking calls and
    iterations run in a worker thread, so the event loop stays free to serve them."""

    client: Any
    is_async: bool

    async def call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self.is_async:
            return await method(*args, **kwargs)
        return await asyncio.to_thread(method, *args, **kwargs)

    async def collect(self, iterator: Any, limit: int | None = None) -> list[Any]:
        """The items of a (sync or async) iterator, at most ``limit``; then closes it."""
        if not self.is_async:

            def take() -> list[Any]:
                with contextlib.closing(iterator):
                    return list(itertools.islice(iterator, limit))

            return await asyncio.to_thread(take)
        items: list[Any] = []
        async with contextlib.aclosing(iterator):
            async for item in iterator:
                items.append(item)
                if len(items) == limit:
                    break
        return items

    @property
    def job_class(self) -> type[ds.Job] | type[ds.AsyncJob]:
        return ds.AsyncJob if self.is_async else ds.Job


@pytest.fixture
async def service() -> AsyncIterator[tuple[str, ScriptedJobService]]:
    """The scripted JobService on 127.0.0.1, on a port the system picks."""
    servicer = ScriptedJobService()
    server = grpc.aio.server()
    job_pb2_grpc.add_JobServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}", servicer
    finally:
        await server.stop(grace=None)


@pytest.fixture(params=["sync", "async"])
async def api(
    request: pytest.FixtureRequest, service: tuple[str, ScriptedJobService]
) -> AsyncIterator[Api]:
    """A client of the scripted service, sync and async in turn."""
    address = service[0]
    if request.param == "async":
        async with ds.AsyncDeepSeekClient(address, timeout=10, retry=FAST_RETRY) as async_client:
            async_client._watch_backoff = FAST_BACKOFF
            yield Api(async_client, is_async=True)
    else:
        sync_client = ds.DeepSeekClient(address, timeout=10, retry=FAST_RETRY)
        sync_client._watch_backoff = FAST_BACKOFF
        try:
            yield Api(sync_client, is_async=False)
        finally:
            sync_client.close()


@pytest.fixture
def jobs(service: tuple[str, ScriptedJobService]) -> ScriptedJobService:
    return service[1]


def job(job_id: str, state: int = job_pb2.JOB_STATE_RUNNING, **fields: Any) -> job_pb2.Job:
    return job_pb2.Job(id=job_id, state=state, **fields)  # type: ignore[arg-type]


def snapshot(sequence: int, of: job_pb2.Job) -> job_pb2.JobEvent:
    return job_pb2.JobEvent(sequence=sequence, type=job_pb2.JOB_EVENT_TYPE_SNAPSHOT, job=of)


def snapshot_complete(sequence: int) -> job_pb2.JobEvent:
    return job_pb2.JobEvent(sequence=sequence, type=job_pb2.JOB_EVENT_TYPE_SNAPSHOT_COMPLETE)


def transition(sequence: int, of: job_pb2.Job, previous: int) -> job_pb2.JobEvent:
    return job_pb2.JobEvent(
        sequence=sequence,
        type=job_pb2.JOB_EVENT_TYPE_TRANSITION,
        job=of,
        previous_state=previous,  # type: ignore[arg-type]
        event_time=timestamp_pb2.Timestamp(seconds=sequence),
    )


def seen(events: Iterable[ds.JobEvent[Any]]) -> list[tuple[str, int]]:
    return [(event.type, event.sequence) for event in events]


def error_status(code: grpc.StatusCode, message: str, *details: Message) -> status_pb2.Status:
    packed = []
    for detail in details:
        packed.append(any_pb2.Any())
        packed[-1].Pack(detail)
    return status_pb2.Status(code=code.value[0], message=message, details=packed)


async def test_create_job_sends_the_spec_and_a_fresh_request_id(
    api: Api, jobs: ScriptedJobService
) -> None:
    first = await api.call(api.client.create_job, SPEC)
    second = await api.call(api.client.create_job, SPEC)

    sent = jobs.received(job_pb2.CreateJobRequest)
    assert [request.spec.job_name for request in sent] == ["molecular_dynamics_001"] * 2
    assert sent[0].spec.resource_spec.cpus_per_node == 32
    assert list(sent[0].spec.dependencies) == ["dataset_20230801"]
    assert not sent[0].submit
    assert uuid.UUID(sent[0].request_id).version == 4
    assert sent[0].request_id != sent[1].request_id
    assert isinstance(first, api.job_class)
    assert (first.id, first.status, first.request_id) == ("job-1", "CREATED", sent[0].request_id)
    assert second.id == "job-2"


async def test_create_job_passes_the_callers_request_id_and_submit(
    api: Api, jobs: ScriptedJobService
) -> None:
    created = await api.call(api.client.create_job, SPEC, submit=True, request_id="retry-key-1")

    (sent,) = jobs.received(job_pb2.CreateJobRequest)
    assert (sent.request_id, sent.submit) == ("retry-key-1", True)
    assert created.status == "QUEUED"


async def test_job_methods_update_the_job_in_place(api: Api, jobs: ScriptedJobService) -> None:
    created = await api.call(api.client.create_job, SPEC)

    assert await api.call(created.submit) is created
    assert created.status == "QUEUED"
    jobs.jobs[created.id].state = job_pb2.JOB_STATE_RUNNING
    assert await api.call(created.refresh) is created
    assert created.status == "RUNNING"
    assert await api.call(created.cancel) is created
    assert (created.status, created.state_reason, created.is_done) == (
        "CANCELLED",
        "CANCELLED_BY_USER",
        True,
    )
    assert [r.id for r in jobs.received(job_pb2.SubmitJobRequest)] == [created.id]
    assert [r.id for r in jobs.received(job_pb2.GetJobRequest)] == [created.id]
    assert [r.id for r in jobs.received(job_pb2.CancelJobRequest)] == [created.id]
    # A done job's state is final: waiting for it needs no watch.
    assert await api.call(created.wait, 10) is created
    assert jobs.received(job_pb2.WatchJobsRequest) == []


async def test_get_job_of_an_unknown_id_is_not_found(api: Api) -> None:
    with pytest.raises(ds.NotFound, match="job job-404 not found"):
        await api.call(api.client.get_job, "job-404")


async def test_list_jobs_follows_page_tokens_until_the_last_page(
    api: Api, jobs: ScriptedJobService
) -> None:
    jobs.pages = {
        "": job_pb2.ListJobsResponse(jobs=[job("job-4"), job("job-3")], next_page_token="p2"),
        "p2": job_pb2.ListJobsResponse(jobs=[job("job-2")], next_page_token="p3"),
        "p3": job_pb2.ListJobsResponse(jobs=[job("job-1")]),
    }
    after = datetime(2026, 1, 1, tzinfo=UTC)

    listed = await api.collect(
        api.client.list_jobs(
            states=["QUEUED", "RUNNING"],
            name_prefix="molecular_",
            labels={"project": "md"},
            created_after=after,
            page_size=2,
        )
    )

    assert [listed_job.id for listed_job in listed] == ["job-4", "job-3", "job-2", "job-1"]
    assert all(isinstance(listed_job, api.job_class) for listed_job in listed)
    sent = jobs.received(job_pb2.ListJobsRequest)
    assert [request.page_token for request in sent] == ["", "p2", "p3"]
    for request in sent:
        assert list(request.states) == [job_pb2.JOB_STATE_QUEUED, job_pb2.JOB_STATE_RUNNING]
        assert (request.name_prefix, dict(request.labels)) == ("molecular_", {"project": "md"})
        assert request.create_time_after.ToDatetime(tzinfo=UTC) == after
        assert not request.HasField("create_time_before")
        assert request.page_size == 2


async def test_list_jobs_fetches_no_page_before_it_is_needed(
    api: Api, jobs: ScriptedJobService
) -> None:
    jobs.pages = {
        "": job_pb2.ListJobsResponse(jobs=[job("job-2"), job("job-1")], next_page_token="p2")
    }

    listed = await api.collect(api.client.list_jobs(), limit=2)

    assert [listed_job.id for listed_job in listed] == ["job-2", "job-1"]
    assert len(jobs.received(job_pb2.ListJobsRequest)) == 1


async def test_batch_results_are_jobs_or_the_matching_exceptions(
    api: Api, jobs: ScriptedJobService
) -> None:
    jobs.batch_results = [
        job_pb2.BatchCreateJobsResult(job=job("job-7", job_pb2.JOB_STATE_QUEUED)),
        job_pb2.BatchCreateJobsResult(
            error=error_status(
                grpc.StatusCode.INVALID_ARGUMENT,
                "invalid job spec",
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field="resource_spec.nodes", description="must be 1-1024"
                        )
                    ]
                ),
            )
        ),
        job_pb2.BatchCreateJobsResult(
            error=error_status(
                grpc.StatusCode.ALREADY_EXISTS,
                "request id reused",
                error_details_pb2.ErrorInfo(reason="REQUEST_ID_REUSED", domain="hpc.deepseek.com"),
                error_details_pb2.ResourceInfo(
                    resource_type="deepseek.hpc.v1.Job", resource_name="job-3"
                ),
            )
        ),
    ]
    specs = [SPEC, {**SPEC, "resource_spec": {"nodes": 5000}}, job_pb2.JobSpec(job_name="c")]

    results = await api.call(api.client.batch_create_jobs, specs, submit=True)

    created, invalid, reused = results
    assert isinstance(created, api.job_class)
    assert (created.id, created.status) == ("job-7", "QUEUED")
    assert type(invalid) is ds.InvalidArgument
    assert str(invalid) == "INVALID_ARGUMENT: invalid job spec"
    assert invalid.field_violations == [("resource_spec.nodes", "must be 1-1024")]
    assert type(reused) is ds.AlreadyExists
    assert (reused.reason, reused.domain) == ("REQUEST_ID_REUSED", "hpc.deepseek.com")
    assert reused.resource_info is not None
    assert reused.resource_info.resource_name == "job-3"
    (sent,) = jobs.received(job_pb2.BatchCreateJobsRequest)
    assert [item.spec.job_name for item in sent.requests] == [
        "molecular_dynamics_001",
        "molecular_dynamics_001",
        "c",
    ]
    assert sent.requests[1].spec.resource_spec.nodes == 5000
    assert all(item.submit for item in sent.requests)
    assert len({item.request_id for item in sent.requests}) == 3


async def test_batch_takes_the_callers_request_ids(api: Api, jobs: ScriptedJobService) -> None:
    jobs.batch_results = [job_pb2.BatchCreateJobsResult(job=job("job-1"))] * 2

    await api.call(api.client.batch_create_jobs, [SPEC, SPEC], request_ids=["k-1", "k-2"])

    (sent,) = jobs.received(job_pb2.BatchCreateJobsRequest)
    assert [item.request_id for item in sent.requests] == ["k-1", "k-2"]


async def test_batch_of_more_than_1000_is_refused_without_a_call(
    api: Api, jobs: ScriptedJobService
) -> None:
    with pytest.raises(ValueError, match="at most 1000 jobs per batch, not 1001"):
        await api.call(api.client.batch_create_jobs, [SPEC] * 1001)

    assert jobs.requests == []


async def test_watch_resumes_after_the_last_transition(api: Api, jobs: ScriptedJobService) -> None:
    queued, running = job("job-1", job_pb2.JOB_STATE_QUEUED), job("job-1")
    done = job("job-1", job_pb2.JOB_STATE_COMPLETED)
    jobs.watches = [
        Watch(
            [snapshot(5, queued), snapshot_complete(7), transition(9, running, queued.state)],
            then=grpc.StatusCode.UNAVAILABLE,
        ),
        Watch([transition(12, done, running.state)]),
    ]

    events = await api.collect(api.client.watch_jobs(["job-1"]))

    assert seen(events) == [
        ("SNAPSHOT", 5),
        ("SNAPSHOT_COMPLETE", 7),
        ("TRANSITION", 9),
        ("TRANSITION", 12),
    ]
    assert (events[3].job.status, events[3].previous_state) == ("COMPLETED", "RUNNING")
    assert events[3].time == datetime.fromtimestamp(12, UTC)
    assert isinstance(events[0].job, api.job_class)
    sent = jobs.received(job_pb2.WatchJobsRequest)
    assert [request.after_sequence for request in sent] == [0, 9]
    assert all(list(request.job_ids) == ["job-1"] for request in sent)
    assert jobs.deadlines["WatchJobsRequest"] is None


async def test_watch_resumes_after_a_completed_snapshot(api: Api, jobs: ScriptedJobService) -> None:
    jobs.watches = [
        Watch([snapshot(5, job("job-1")), snapshot_complete(7)], then=grpc.StatusCode.UNAVAILABLE),
        Watch([transition(8, job("job-1", job_pb2.JOB_STATE_FAILED), job_pb2.JOB_STATE_RUNNING)]),
    ]

    events = await api.collect(api.client.watch_jobs(["job-1"]))

    assert seen(events) == [("SNAPSHOT", 5), ("SNAPSHOT_COMPLETE", 7), ("TRANSITION", 8)]
    assert [r.after_sequence for r in jobs.received(job_pb2.WatchJobsRequest)] == [0, 7]


async def test_watch_broken_during_the_snapshot_starts_over(
    api: Api, jobs: ScriptedJobService
) -> None:
    jobs.watches = [
        Watch([snapshot(5, job("job-1")), snapshot(6, job("job-2"))], grpc.StatusCode.UNAVAILABLE),
        Watch([snapshot(5, job("job-1")), snapshot(6, job("job-2")), snapshot_complete(7)]),
    ]

    events = await api.collect(api.client.watch_jobs())

    assert seen(events) == [("SNAPSHOT", 5), ("SNAPSHOT", 6)] * 2 + [("SNAPSHOT_COMPLETE", 7)]
    sent = jobs.received(job_pb2.WatchJobsRequest)
    assert [(list(r.job_ids), r.after_sequence) for r in sent] == [([], 0), ([], 0)]


async def test_watch_from_a_sequence_keeps_it_until_an_event_arrives(
    api: Api, jobs: ScriptedJobService
) -> None:
    jobs.watches = [
        Watch([], then=grpc.StatusCode.UNAVAILABLE),
        Watch([], then=grpc.StatusCode.UNAVAILABLE),
        Watch([transition(25, job("job-1"), job_pb2.JOB_STATE_QUEUED)]),
    ]

    events = await api.collect(api.client.watch_jobs(["job-1"], after_sequence=20))

    assert seen(events) == [("TRANSITION", 25)]
    assert [r.after_sequence for r in jobs.received(job_pb2.WatchJobsRequest)] == [20, 20, 20]


async def test_watch_gives_up_after_the_reconnects_in_a_row(
    api: Api, jobs: ScriptedJobService
) -> None:
    # Each reconnect is itself retried by the retry layer, as it fails before any event.
    calls = (FAST_BACKOFF.attempts + 1) * (FAST_RETRY.max_retries + 1)
    jobs.watches = [Watch([], then=grpc.StatusCode.UNAVAILABLE)] * calls

    with pytest.raises(ds.Unavailable, match="shutting down"):
        await api.collect(api.client.watch_jobs())

    assert len(jobs.received(job_pb2.WatchJobsRequest)) == calls


async def test_watch_raises_other_errors_without_reconnecting(
    api: Api, jobs: ScriptedJobService
) -> None:
    jobs.watches = [Watch([], then=grpc.StatusCode.OUT_OF_RANGE)]

    with pytest.raises(ds.OutOfRange):
        await api.collect(api.client.watch_jobs(after_sequence=3))

    assert len(jobs.received(job_pb2.WatchJobsRequest)) == 1


async def test_wait_returns_on_the_terminal_transition(api: Api, jobs: ScriptedJobService) -> None:
    jobs.jobs["job-1"] = job("job-1")
    done = job("job-1", job_pb2.JOB_STATE_COMPLETED, exit_code=0)
    # The stream stays open after the final transition: wait must not depend on its end.
    jobs.watches = [
        Watch(
            [snapshot(5, job("job-1")), snapshot_complete(7), transition(9, done, 3)],
            then="hang",
        )
    ]
    waiting = await api.call(api.client.get_job, "job-1")

    assert await api.call(waiting.wait, 10) is waiting

    assert (waiting.status, waiting.exit_code, waiting.is_done) == ("COMPLETED", 0, True)
    (sent,) = jobs.received(job_pb2.WatchJobsRequest)
    assert (list(sent.job_ids), sent.after_sequence) == (["job-1"], 0)
    await asyncio.wait_for(jobs.watch_ended.wait(), timeout=10)


async def test_wait_returns_at_once_for_a_job_done_before_the_watch(
    api: Api, jobs: ScriptedJobService
) -> None:
    jobs.jobs["job-1"] = job("job-1")
    failed = job("job-1", job_pb2.JOB_STATE_FAILED, state_reason=job_pb2.JOB_STATE_REASON_TIMEOUT)
    jobs.watches = [Watch([snapshot(9, failed), snapshot_complete(10)], then="hang")]
    waiting = await api.call(api.client.get_job, "job-1")

    await api.call(waiting.wait, 10)

    assert (waiting.status, waiting.state_reason) == ("FAILED", "TIMEOUT")


async def test_wait_resumes_across_a_server_restart(api: Api, jobs: ScriptedJobService) -> None:
    jobs.jobs["job-1"] = job("job-1")
    jobs.watches = [
        Watch([snapshot(5, job("job-1")), snapshot_complete(7)], grpc.StatusCode.UNAVAILABLE),
        Watch([transition(9, job("job-1", job_pb2.JOB_STATE_CANCELLED), 3)], then="hang"),
    ]
    waiting = await api.call(api.client.get_job, "job-1")

    await api.call(waiting.wait, 10)

    assert waiting.status == "CANCELLED"
    assert [r.after_sequence for r in jobs.received(job_pb2.WatchJobsRequest)] == [0, 7]


async def test_wait_raises_timeout_error_when_the_job_stays_running(
    api: Api, jobs: ScriptedJobService
) -> None:
    jobs.jobs["job-1"] = job("job-1")
    jobs.watches = [Watch([snapshot(5, job("job-1")), snapshot_complete(7)], then="hang")]
    waiting = await api.call(api.client.get_job, "job-1")

    with pytest.raises(TimeoutError, match=r"job job-1 is not done after 0\.3 seconds"):
        await api.call(waiting.wait, 0.3)

    assert waiting.status == "RUNNING"


async def test_read_logs_yields_the_bytes_in_order(api: Api, jobs: ScriptedJobService) -> None:
    jobs.log_chunks = [b"step 1\n", b"\xff\xfe not utf-8", b"step 2\n"]

    chunks = await api.collect(api.client.read_logs("job-1", "stderr", offset=3, follow=True))

    assert chunks == jobs.log_chunks
    (sent,) = jobs.received(job_pb2.ReadJobLogsRequest)
    assert (sent.id, sent.stream, sent.offset, sent.follow) == (
        "job-1",
        job_pb2.LOG_STREAM_STDERR,
        3,
        True,
    )
    assert jobs.deadlines["ReadJobLogsRequest"] is None


async def test_job_logs_reads_stdout_within_the_client_timeout(
    api: Api, jobs: ScriptedJobService
) -> None:
    jobs.jobs["job-1"] = job("job-1")
    jobs.log_chunks = [b"hello\n"]
    found = await api.call(api.client.get_job, "job-1")

    assert await api.collect(found.logs()) == [b"hello\n"]

    (sent,) = jobs.received(job_pb2.ReadJobLogsRequest)
    assert (sent.stream, sent.offset, sent.follow) == (job_pb2.LOG_STREAM_STDOUT, 0, False)
    deadline = jobs.deadlines["ReadJobLogsRequest"]
    assert deadline is not None
    assert 0 < deadline <= 11


async def test_get_capabilities(api: Api, jobs: ScriptedJobService) -> None:
    jobs.capabilities = job_pb2.GetCapabilitiesResponse(
        executor="slurm",
        partitions=[
            job_pb2.Partition(
                name="gpu",
                max_nodes=64,
                cpus_per_node=128,
                memory_gb_per_node=1024,
                gpus_per_node=8,
                gpu_types=[common_pb2.GPU_TYPE_H100, common_pb2.GPU_TYPE_A100],
                max_timeout_seconds=2_592_000,
            ),
            job_pb2.Partition(name="cpu", max_nodes=1024, cpus_per_node=64),
        ],
    )

    capabilities = await api.call(api.client.get_capabilities)

    assert capabilities == ds.Capabilities(
        executor="slurm",
        partitions=(
            ds.Partition("gpu", 64, 128, 1024, 8, ("H100", "A100"), 2_592_000),
            ds.Partition("cpu", 1024, 64, 0, 0, (), 0),
        ),
    )
