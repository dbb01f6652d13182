"""The SDK's job surface without a server: specs, the Job view, events, local refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2, timestamp_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

import deepseek_api as ds
from deepseek.hpc.v1 import common_pb2, job_pb2
from deepseek_api._specs import job_spec
from deepseek_api._status import from_status
from deepseek_api._watch import Backoff, Resumption, watch_request

# The request body of the platform guide's section 2.1.1, verbatim.
GUIDE_SUBMISSION_BODY: dict[str, Any] = {
    "job_name": "molecular_dynamics_001",
    "resource_spec": {"nodes": 4, "cpus_per_node": 32, "gpus_per_node": 2, "memory_gb": 256},
    "command": "mpirun -np 128 ./lammps_simulation",
    "timeout": 86400,
    "dependencies": ["dataset_20230801"],
}

# The job_spec of the platform guide's section 4.1, verbatim.
GUIDE_SCENARIO_SPEC: dict[str, Any] = {
    "job_name": "protein_folding_2023",
    "resource_spec": {"nodes": 8, "gpus_per_node": 4, "memory_gb": 512},
    "command": "gromacs -s topol.tpr -ntomp 32 -gpu_id 0,1,2,3",
    "environment": {"GROMACS_VERSION": "2023.1", "CUDA_VISIBLE_DEVICES": "all"},
}

# The states as the platform guide's users compare them (section 4.1), plus CREATED,
# QUEUED and CANCELLED of the lifecycle.
GUIDE_STATUSES = {"CREATED", "QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"}


def ts(seconds: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=seconds)


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@pytest.fixture
def client() -> Iterator[ds.DeepSeekClient]:
    """A client that is never connected: its channel only opens on a call."""
    with ds.DeepSeekClient("127.0.0.1:1") as unconnected:
        yield unconnected


@pytest.fixture
async def async_client() -> AsyncIterator[ds.AsyncDeepSeekClient]:
    async with ds.AsyncDeepSeekClient("127.0.0.1:1") as unconnected:
        yield unconnected


def test_guide_submission_body_is_a_job_spec() -> None:
    assert job_spec(GUIDE_SUBMISSION_BODY) == job_pb2.JobSpec(
        job_name="molecular_dynamics_001",
        resource_spec=common_pb2.ResourceSpec(
            nodes=4, cpus_per_node=32, gpus_per_node=2, memory_gb=256
        ),
        command="mpirun -np 128 ./lammps_simulation",
        timeout=86400,
        dependencies=["dataset_20230801"],
    )


def test_guide_scenario_spec_is_a_job_spec() -> None:
    assert job_spec(GUIDE_SCENARIO_SPEC) == job_pb2.JobSpec(
        job_name="protein_folding_2023",
        resource_spec=common_pb2.ResourceSpec(nodes=8, gpus_per_node=4, memory_gb=512),
        command="gromacs -s topol.tpr -ntomp 32 -gpu_id 0,1,2,3",
        environment={"GROMACS_VERSION": "2023.1", "CUDA_VISIBLE_DEVICES": "all"},
    )


def test_labels_are_part_of_the_spec() -> None:
    spec = job_spec({**GUIDE_SCENARIO_SPEC, "labels": {"project": "folding"}})

    assert dict(spec.labels) == {"project": "folding"}


@pytest.mark.parametrize(
    ("gpu_type", "expected"),
    [
        ("A100", common_pb2.GPU_TYPE_A100),
        ("H100", common_pb2.GPU_TYPE_H100),
        ("h100", common_pb2.GPU_TYPE_H100),
        ("GPU_TYPE_A100", common_pb2.GPU_TYPE_A100),
        (2, common_pb2.GPU_TYPE_H100),
    ],
)
def test_gpu_type_is_a_model_or_an_enum_name(gpu_type: object, expected: int) -> None:
    body = {**GUIDE_SUBMISSION_BODY, "resource_spec": {"nodes": 1, "gpu_type": gpu_type}}

    assert job_spec(body).resource_spec.gpu_type == expected


def test_the_callers_mapping_is_left_alone() -> None:
    resources = {"nodes": 1, "gpu_type": "A100"}

    job_spec({"job_name": "x", "resource_spec": resources})

    assert resources == {"nodes": 1, "gpu_type": "A100"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"job_nmae": "typo"}, "job_nmae"),
        ({"resource_spec": {"nodes": "four"}}, "nodes"),
        ({"resource_spec": {"nodes": 1, "gpu_type": "A200"}}, "gpu_type"),
        ({"resource_spec": [4, 32]}, "resource_spec"),
        ({"timeout": 1.5}, "timeout"),
        ({"dependencies": "dataset_20230801"}, "dependencies"),
        ({"environment": {"OMP_NUM_THREADS": 32}}, "environment"),
        ({"labels": ["project"]}, "labels"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_a_malformed_spec_is_a_value_error_naming_the_field(
    change: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        job_spec({**GUIDE_SUBMISSION_BODY, **change})


def test_a_spec_is_a_message_or_a_mapping() -> None:
    with pytest.raises(TypeError, match="JobSpec or a mapping"):
        job_spec(["molecular_dynamics_001"])  # type: ignore[arg-type]


def test_a_job_spec_message_is_copied() -> None:
    original = job_pb2.JobSpec(job_name="a")

    copy = job_spec(original)
    copy.job_name = "b"

    assert original.job_name == "a"


def full_job() -> job_pb2.Job:
    return job_pb2.Job(
        id="job-abc123",
        spec=job_spec(GUIDE_SUBMISSION_BODY),
        state=job_pb2.JOB_STATE_FAILED,
        state_reason=job_pb2.JOB_STATE_REASON_TIMEOUT,
        state_message="ran longer than 86400 s",
        exit_code=137,
        owner="researcher_007",
        request_id="req-1",
        create_time=ts(1_000),
        submit_time=ts(1_010),
        start_time=ts(1_020),
        end_time=ts(87_420),
        update_time=ts(87_421),
        usage=common_pb2.ResourceUsage(
            wall_time=duration_pb2.Duration(seconds=86_400),
            cpu_time=duration_pb2.Duration(seconds=3_600, nanos=500_000_000),
            peak_memory_bytes=2**30,
        ),
        cost=common_pb2.Amount(currency_code="CNY", minor_units=1234),
        metrics={"energy": -1.5, "steps": 1e6},
        executor="slurm",
        executor_job_id="4242",
        state_sequence=99,
    )


def test_job_properties_read_the_message(client: ds.DeepSeekClient) -> None:
    proto = full_job()
    job = ds.Job(proto, client)

    assert job.proto is proto
    assert job.id == "job-abc123"
    assert job.name == "molecular_dynamics_001"
    assert job.status == "FAILED"
    assert job.state_reason == "TIMEOUT"
    assert job.state_message == "ran longer than 86400 s"
    assert job.exit_code == 137
    assert job.owner == "researcher_007"
    assert job.request_id == "req-1"
    assert job.spec == job_spec(GUIDE_SUBMISSION_BODY)
    assert job.create_time == at(1_000)
    assert job.create_time.tzinfo is UTC
    assert job.submit_time == at(1_010)
    assert job.start_time == at(1_020)
    assert job.end_time == at(87_420)
    assert job.update_time == at(87_421)
    assert job.usage == ds.ResourceUsage(
        wall_time=timedelta(days=1),
        cpu_time=timedelta(hours=1, milliseconds=500),
        peak_memory_bytes=2**30,
    )
    assert job.cost == ds.Amount("CNY", 1234)
    assert job.metrics == {"energy": -1.5, "steps": 1e6}
    assert job.executor == "slurm"
    assert job.executor_job_id == "4242"
    assert job.is_done
    assert repr(job) == "Job(id='job-abc123', name='molecular_dynamics_001', status='FAILED')"


def test_unset_job_fields_read_as_none(client: ds.DeepSeekClient) -> None:
    job = ds.Job(job_pb2.Job(id="job-1", state=job_pb2.JOB_STATE_CREATED), client)

    assert job.state_reason is None
    assert job.exit_code is None
    assert job.request_id is None
    assert job.executor_job_id is None
    assert (job.create_time, job.start_time, job.end_time) == (None, None, None)
    assert job.usage is None
    assert job.cost is None
    assert job.metrics == {}
    assert not job.is_done


def test_exit_code_zero_is_not_none(client: ds.DeepSeekClient) -> None:
    job = ds.Job(job_pb2.Job(state=job_pb2.JOB_STATE_COMPLETED, exit_code=0), client)

    assert job.exit_code == 0


def test_every_job_state_reads_as_a_guide_status(client: ds.DeepSeekClient) -> None:
    statuses = {
        number: ds.Job(job_pb2.Job(state=number), client).status
        for number in job_pb2.JobState.values()
        if number != job_pb2.JOB_STATE_UNSPECIFIED
    }

    assert set(statuses.values()) == GUIDE_STATUSES
    assert len(statuses) == len(GUIDE_STATUSES)
    done = {
        status
        for number, status in statuses.items()
        if ds.Job(job_pb2.Job(state=number), client).is_done
    }
    assert done == {"COMPLETED", "FAILED", "CANCELLED"}


def test_every_state_reason_reads_without_its_prefix(client: ds.DeepSeekClient) -> None:
    reasons = [
        ds.Job(job_pb2.Job(state_reason=number), client).state_reason
        for number in job_pb2.JobStateReason.values()
    ]

    assert reasons[0] is None
    assert "NON_ZERO_EXIT" in reasons
    assert "WAITING_FOR_CAPACITY" in reasons
    assert all(reason and not reason.startswith("JOB_") for reason in reasons[1:])


def test_a_state_of_a_newer_server_reads_as_its_number(client: ds.DeepSeekClient) -> None:
    assert ds.Job(job_pb2.Job(state=42), client).status == "42"  # type: ignore[arg-type]


async def test_an_async_job_has_the_same_properties(
    async_client: ds.AsyncDeepSeekClient, client: ds.DeepSeekClient
) -> None:
    proto = full_job()
    sync_job, async_job = ds.Job(proto, client), ds.AsyncJob(proto, async_client)

    for name in ("id", "status", "state_reason", "exit_code", "end_time", "usage", "cost"):
        assert getattr(async_job, name) == getattr(sync_job, name), name


def test_transition_event(client: ds.DeepSeekClient) -> None:
    proto = job_pb2.JobEvent(
        sequence=12,
        type=job_pb2.JOB_EVENT_TYPE_TRANSITION,
        job=job_pb2.Job(id="job-1", state=job_pb2.JOB_STATE_COMPLETED),
        previous_state=job_pb2.JOB_STATE_RUNNING,
        event_time=ts(5_000),
    )

    event = ds.JobEvent.from_proto(proto, client._job)

    assert (event.sequence, event.type, event.previous_state) == (12, "TRANSITION", "RUNNING")
    assert event.time == at(5_000)
    assert isinstance(event.job, ds.Job)
    assert (event.job.id, event.job.status) == ("job-1", "COMPLETED")
    assert event.proto is proto


def test_snapshot_events(client: ds.DeepSeekClient) -> None:
    snapshot = ds.JobEvent.from_proto(
        job_pb2.JobEvent(
            sequence=5,
            type=job_pb2.JOB_EVENT_TYPE_SNAPSHOT,
            job=job_pb2.Job(id="job-1", state=job_pb2.JOB_STATE_QUEUED),
            event_time=ts(4_000),
        ),
        client._job,
    )
    complete = ds.JobEvent.from_proto(
        job_pb2.JobEvent(sequence=7, type=job_pb2.JOB_EVENT_TYPE_SNAPSHOT_COMPLETE), client._job
    )

    assert (snapshot.type, snapshot.previous_state, snapshot.time) == ("SNAPSHOT", None, at(4_000))
    assert snapshot.job is not None
    assert snapshot.job.status == "QUEUED"
    assert (complete.sequence, complete.type, complete.job, complete.time) == (
        7,
        "SNAPSHOT_COMPLETE",
        None,
        None,
    )


def test_batch_item_status_becomes_its_exception() -> None:
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.ErrorInfo(reason="REQUEST_ID_REUSED", domain="hpc.deepseek.com"))
    status = status_pb2.Status(
        code=grpc.StatusCode.ALREADY_EXISTS.value[0], message="request id reused", details=[detail]
    )

    error = from_status(status)

    assert type(error) is ds.AlreadyExists
    assert str(error) == "ALREADY_EXISTS: request id reused"
    assert error.reason == "REQUEST_ID_REUSED"


def test_status_codes_of_google_rpc_match_grpc() -> None:
    # The batch's per-item Status carries google.rpc.Code numbers; the SDK reads them as
    # grpc.StatusCode values, which holds only while the two tables agree.
    for code in grpc.StatusCode:
        assert code_pb2.Code.Name(code.value[0]) == code.name


def test_unknown_status_code_is_unknown() -> None:
    assert type(from_status(status_pb2.Status(code=99, message="?"))) is ds.Unknown


def test_arguments_are_refused_before_any_call(client: ds.DeepSeekClient) -> None:
    # The client points at a closed port: reaching it would be Unavailable, not ValueError.
    with pytest.raises(ValueError, match="at most 1000 jobs"):
        client.batch_create_jobs([GUIDE_SUBMISSION_BODY] * 1001)
    with pytest.raises(ValueError, match=r"specs\[1\].*nodes"):
        client.batch_create_jobs([GUIDE_SUBMISSION_BODY, {"resource_spec": {"nodes": "x"}}])
    with pytest.raises(ValueError, match="one per spec"):
        client.batch_create_jobs([GUIDE_SUBMISSION_BODY], request_ids=["a", "b"])
    with pytest.raises(ValueError, match="states: unknown value 'DONE'"):
        client.list_jobs(states=["QUEUED", "DONE"])
    with pytest.raises(ValueError, match="created_after must be a timezone-aware datetime"):
        client.list_jobs(created_after=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="stream: unknown value 'stdin'"):
        client.read_logs("job-1", "stdin")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nodes"):
        client.create_job({"resource_spec": {"nodes": [1]}})


def test_an_empty_batch_makes_no_call(client: ds.DeepSeekClient) -> None:
    assert client.batch_create_jobs([]) == []


def test_watch_resumes_only_from_complete_snapshots_and_transitions() -> None:
    resumption = Resumption(watch_request(["job-1"], 0), Backoff(), deadline=None)

    resumption.received(job_pb2.JobEvent(sequence=5, type=job_pb2.JOB_EVENT_TYPE_SNAPSHOT))
    assert resumption.request().after_sequence == 0
    resumption.received(job_pb2.JobEvent(sequence=7, type=job_pb2.JOB_EVENT_TYPE_SNAPSHOT_COMPLETE))
    assert resumption.request().after_sequence == 7
    resumption.received(job_pb2.JobEvent(sequence=9, type=job_pb2.JOB_EVENT_TYPE_TRANSITION))
    assert resumption.request().after_sequence == 9
    assert list(resumption.request().job_ids) == ["job-1"]


def test_watch_backoff_grows_is_bounded_and_gives_up() -> None:
    resumption = Resumption(
        watch_request(None, 0), Backoff(initial=1, multiplier=2, maximum=3, attempts=3), None
    )
    unavailable = ds.Unavailable("restarting")

    delays = [resumption.delay_after(unavailable) for _ in range(3)]
    with pytest.raises(ds.Unavailable):
        resumption.delay_after(unavailable)

    assert 0.5 <= delays[0] <= 1
    assert 1 <= delays[1] <= 2
    assert 1.5 <= delays[2] <= 3


def test_an_event_resets_the_reconnect_count() -> None:
    resumption = Resumption(watch_request(None, 0), Backoff(initial=0, attempts=1), None)
    unavailable = ds.Unavailable("restarting")

    resumption.delay_after(unavailable)
    resumption.received(job_pb2.JobEvent(sequence=1, type=job_pb2.JOB_EVENT_TYPE_TRANSITION))

    assert resumption.delay_after(unavailable) == 0


def test_other_errors_end_the_watch_at_once() -> None:
    resumption = Resumption(watch_request(None, 0), Backoff(), None)

    with pytest.raises(ds.OutOfRange):
        resumption.delay_after(ds.OutOfRange("history expired"))


def test_a_single_job_id_is_not_split_into_characters() -> None:
    assert list(watch_request("job-1", 0).job_ids) == ["job-1"]
