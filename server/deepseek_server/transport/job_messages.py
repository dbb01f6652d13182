"""JobService messages to and from the job domain's values."""

from __future__ import annotations

from google.protobuf import duration_pb2

from deepseek.hpc.v1 import common_pb2, job_pb2
from deepseek_server.executors.base import Capabilities, GpuType
from deepseek_server.jobs.model import Job, JobEvent, JobSpec, JobState, ListFilter, StateReason
from deepseek_server.jobs.service import CreateRequest, Snapshot, SnapshotComplete, WatchItem
from deepseek_server.transport._time import datetime_of, timestamp

_STATE_TO_PROTO = {state: job_pb2.JobState.Value(f"JOB_STATE_{state.value}") for state in JobState}
_STATE_FROM_PROTO = {number: state for state, number in _STATE_TO_PROTO.items()}
_REASON_TO_PROTO = {
    reason: job_pb2.JobStateReason.Value(f"JOB_STATE_REASON_{reason.value}")
    for reason in StateReason
    if reason is not StateReason.NONE
} | {StateReason.NONE: job_pb2.JOB_STATE_REASON_UNSPECIFIED}
_GPU_TO_PROTO = {gpu: common_pb2.GpuType.Value(f"GPU_TYPE_{gpu.value}") for gpu in GpuType}
_GPU_FROM_PROTO = {number: gpu for gpu, number in _GPU_TO_PROTO.items()}
LOG_STREAMS = {job_pb2.LOG_STREAM_STDOUT: "stdout", job_pb2.LOG_STREAM_STDERR: "stderr"}


def create_request(message: job_pb2.CreateJobRequest) -> CreateRequest:
    """The domain's create request from the RPC's."""
    return CreateRequest(
        spec=spec_from_proto(message.spec), submit=message.submit, request_id=message.request_id
    )


def spec_from_proto(spec: job_pb2.JobSpec) -> JobSpec:
    """The domain spec, unvalidated; an unknown GPU type number is kept for validation to name."""
    resources = spec.resource_spec
    number = resources.gpu_type
    gpu_type: GpuType | str | None = (
        None
        if number == common_pb2.GPU_TYPE_UNSPECIFIED
        else _GPU_FROM_PROTO.get(number, f"#{number}")
    )
    return JobSpec(
        job_name=spec.job_name,
        command=spec.command,
        nodes=resources.nodes,
        cpus_per_node=resources.cpus_per_node,
        gpus_per_node=resources.gpus_per_node,
        gpu_type=gpu_type,
        memory_gb=resources.memory_gb,
        timeout_seconds=spec.timeout,
        dependencies=tuple(spec.dependencies),
        environment=dict(spec.environment),
        labels=dict(spec.labels),
    )


def gpu_type_to_proto(gpu_type: GpuType) -> common_pb2.GpuType.ValueType:
    """The API's number for a GPU type."""
    return _GPU_TO_PROTO[gpu_type]


def spec_to_proto(spec: JobSpec) -> job_pb2.JobSpec:
    """The stored spec as the API shows it (defaults filled in)."""
    gpu_type = (
        _GPU_TO_PROTO[spec.gpu_type]
        if isinstance(spec.gpu_type, GpuType)
        else common_pb2.GPU_TYPE_UNSPECIFIED
    )
    return job_pb2.JobSpec(
        job_name=spec.job_name,
        command=spec.command,
        resource_spec=common_pb2.ResourceSpec(
            nodes=spec.nodes,
            cpus_per_node=spec.cpus_per_node,
            gpus_per_node=spec.gpus_per_node,
            gpu_type=gpu_type,
            memory_gb=spec.memory_gb,
        ),
        timeout=spec.timeout_seconds,
        dependencies=spec.dependencies,
        environment=spec.environment,
        labels=spec.labels,
    )


def job_to_proto(job: Job) -> job_pb2.Job:
    """The API's view of a job."""
    message = job_pb2.Job(
        id=job.id,
        spec=spec_to_proto(job.spec),
        state=_STATE_TO_PROTO[job.state],
        state_reason=_REASON_TO_PROTO[job.reason],
        state_message=job.message,
        owner=job.owner,
        request_id=job.request_id,
        create_time=timestamp(job.create_time),
        update_time=timestamp(job.update_time),
        metrics=job.metrics,
        executor=job.executor,
        executor_job_id=job.executor_job_id,
        state_sequence=job.state_sequence,
    )
    if job.exit_code is not None:
        message.exit_code = job.exit_code
    for name, moment in (
        ("submit_time", job.submit_time),
        ("start_time", job.start_time),
        ("end_time", job.end_time),
    ):
        if moment is not None:
            getattr(message, name).CopyFrom(timestamp(moment))
    if job.cost is not None:
        message.cost.currency_code = job.cost.currency
        message.cost.minor_units = job.cost.minor_units
    if job.usage is not None:
        message.usage.wall_time.CopyFrom(_duration(job.usage.wall_time_seconds))
        message.usage.cpu_time.CopyFrom(_duration(job.usage.cpu_time_seconds))
        message.usage.peak_memory_bytes = job.usage.peak_memory_bytes
    return message


def watch_item_to_proto(item: WatchItem) -> job_pb2.WatchJobsResponse:
    """One WatchJobs message."""
    if isinstance(item, Snapshot):
        event = job_pb2.JobEvent(
            type=job_pb2.JOB_EVENT_TYPE_SNAPSHOT,
            job=job_to_proto(item.job),
            sequence=item.job.state_sequence,
            event_time=timestamp(item.job.update_time),
        )
    elif isinstance(item, SnapshotComplete):
        event = job_pb2.JobEvent(
            type=job_pb2.JOB_EVENT_TYPE_SNAPSHOT_COMPLETE, sequence=item.sequence
        )
    else:
        event = _transition(item)
    return job_pb2.WatchJobsResponse(event=event)


def _transition(item: JobEvent) -> job_pb2.JobEvent:
    previous = item.previous_state
    return job_pb2.JobEvent(
        type=job_pb2.JOB_EVENT_TYPE_TRANSITION,
        sequence=item.sequence,
        job=job_to_proto(item.job),
        previous_state=_STATE_TO_PROTO[previous] if previous else job_pb2.JOB_STATE_UNSPECIFIED,
        event_time=timestamp(item.time),
    )


def list_filter(request: job_pb2.ListJobsRequest) -> ListFilter:
    """The listing conditions of a ListJobs request."""
    return ListFilter(
        states=frozenset(_STATE_FROM_PROTO[s] for s in request.states if s in _STATE_FROM_PROTO),
        name_prefix=request.name_prefix,
        labels=dict(request.labels),
        created_after=datetime_of(request.create_time_after)
        if request.HasField("create_time_after")
        else None,
        created_before=datetime_of(request.create_time_before)
        if request.HasField("create_time_before")
        else None,
    )


def unknown_states(request: job_pb2.ListJobsRequest) -> list[int]:
    """State numbers in a ListJobs filter that name no state."""
    return [s for s in request.states if s not in _STATE_FROM_PROTO]


def capabilities_to_proto(capabilities: Capabilities) -> job_pb2.GetCapabilitiesResponse:
    """What the executor can ever run, as the API shows it."""
    return job_pb2.GetCapabilitiesResponse(
        executor=capabilities.executor,
        partitions=[
            job_pb2.Partition(
                name=p.name,
                max_nodes=p.max_nodes,
                cpus_per_node=p.cpus_per_node,
                memory_gb_per_node=p.memory_gb_per_node,
                gpus_per_node=p.gpus_per_node,
                gpu_types=[_GPU_TO_PROTO[t] for t in p.gpu_types],
                max_timeout_seconds=p.max_timeout_seconds,
            )
            for p in capabilities.partitions
        ],
    )


def _duration(seconds: float) -> duration_pb2.Duration:
    span = duration_pb2.Duration()
    span.FromNanoseconds(round(seconds * 1e9))
    return span
