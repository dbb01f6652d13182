"""Job rows: the stored JSON round-trips and reads as before; metrics stay finite."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from deepseek_server.accounts.model import Money
from deepseek_server.executors.base import GpuType
from deepseek_server.jobs.codec import decode_job, encode_spec, encode_status
from deepseek_server.jobs.model import Job, JobSpec, JobState, StateReason, Usage
from deepseek_server.jobs.workspace import read_metrics

SPEC = JobSpec(
    job_name="训练-ü",
    command="python train.py --name 'ü\"x'",
    nodes=2,
    cpus_per_node=4,
    gpus_per_node=1,
    gpu_type=GpuType.H100,
    memory_gb=64,
    timeout_seconds=7200,
    dependencies=("job-01", "dataset-a"),
    environment={"LANG": "zh_CN.UTF-8", "EMPTY": ""},
    labels={"team": "nlp"},
)


def test_a_job_round_trips_through_its_row() -> None:
    moment = datetime(2026, 12, 4, 12, 0, 0, 123456, tzinfo=UTC)
    job = Job(
        id="job-x",
        owner="alice",
        spec=SPEC,
        state=JobState.COMPLETED,
        create_time=moment,
        update_time=moment,
        reason=StateReason.NONE,
        exit_code=0,
        request_id="r-1",
        submit_time=moment,
        start_time=moment,
        end_time=moment,
        usage=Usage(3.5, 2.25, 1 << 40),
        cost=Money("CNY", 1234),
        metrics={"loss": 0.125, "step": 10.0},
        executor="local",
        executor_job_id="4242",
        state_sequence=7,
    )
    row = {
        "id": job.id,
        "owner": job.owner,
        "spec": encode_spec(job.spec),
        "create_time": 1_764_849_600_123_456,
        "request_id": job.request_id,
        "status": encode_status(job),
    }
    decoded = decode_job(row)
    assert decoded.spec == SPEC
    assert decoded.usage == job.usage
    assert decoded.cost == job.cost
    assert decoded.metrics == job.metrics
    assert (decoded.state, decoded.end_time, decoded.state_sequence) == (
        JobState.COMPLETED,
        moment,
        7,
    )


def test_the_spec_is_written_as_the_json_module_wrote_it() -> None:
    # Request fingerprints of jobs stored before hash this text: it must not change.
    expected = json.dumps(json.loads(encode_spec(SPEC)), separators=(",", ":"), ensure_ascii=False)
    assert encode_spec(SPEC) == expected
    assert "训练" in encode_spec(SPEC)


def test_metrics_that_are_not_finite_numbers_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text(
        '{"loss": 0.5, "nan": NaN, "inf": Infinity, "huge": 1' + "0" * 400 + "}\n"
        '{"flag": true, "text": "x", "step": 3}\nnot json\n'
    )
    assert read_metrics(path) == {"loss": 0.5, "step": 3.0}
