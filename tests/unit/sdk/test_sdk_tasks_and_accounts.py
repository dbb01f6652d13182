"""ML tasks, quotas, usage and audit records without a server: what the SDK sends and shows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from google.protobuf import duration_pb2

import deepseek_api as ds
from deepseek.hpc.v1 import account_pb2, audit_pb2, common_pb2, job_pb2
from deepseek_api._accounts import kind_numbers, usage_of, usage_request
from deepseek_api._audit import watch_records_request
from deepseek_api._ml import FRAMEWORK_LABEL, FRAMEWORK_VARIABLE, ml_task_spec


def task_spec(framework: str = "pytorch", **overrides: Any) -> job_pb2.JobSpec:
    fields: dict[str, Any] = {
        "job_name": None,
        "cpus_per_node": None,
        "gpus_per_node": None,
        "memory_gb": None,
        "gpu_type": None,
        "timeout": None,
        "environment": None,
        "labels": None,
        "dependencies": None,
        **overrides,
    }
    return ml_task_spec(framework, 4, "python train.py --segment 0", **fields)


def test_the_framework_becomes_a_label_and_a_variable_the_job_sees() -> None:
    spec = task_spec("PyTorch")

    assert spec.labels[FRAMEWORK_LABEL] == "pytorch"
    assert spec.environment[FRAMEWORK_VARIABLE] == "pytorch"
    assert not FRAMEWORK_VARIABLE.startswith("DEEPSEEK_")  # reserved for the gateway
    assert spec.resource_spec.nodes == 4
    assert spec.command == "python train.py --segment 0"
    assert spec.job_name == "pytorch-task"


def test_a_tasks_resources_and_extras_reach_the_spec() -> None:
    spec = task_spec(
        job_name="seg-0",
        gpus_per_node=8,
        memory_gb=256,
        gpu_type="H100",
        timeout=600,
        environment={"NCCL_DEBUG": "INFO"},
        labels={"project": "llm"},
        dependencies=["corpus"],
    )

    assert spec.job_name == "seg-0"
    assert spec.resource_spec.gpus_per_node == 8
    assert spec.resource_spec.memory_gb == 256
    assert spec.resource_spec.gpu_type == common_pb2.GPU_TYPE_H100
    assert spec.timeout == 600
    assert dict(spec.environment) == {"NCCL_DEBUG": "INFO", FRAMEWORK_VARIABLE: "pytorch"}
    assert dict(spec.labels) == {"project": "llm", FRAMEWORK_LABEL: "pytorch"}
    assert list(spec.dependencies) == ["corpus"]


@pytest.mark.parametrize("framework", ["", "torch lightning", "-x", "x" * 64, "pytörch"])
def test_a_framework_that_cannot_be_a_label_is_refused(framework: str) -> None:
    with pytest.raises(ValueError, match="framework"):
        task_spec(framework)


def test_task_metrics_show_what_the_job_reported_used_and_cost() -> None:
    proto = job_pb2.Job(
        id="job-1",
        state=job_pb2.JOB_STATE_COMPLETED,
        exit_code=0,
        metrics={"loss": 0.12, "accuracy": 0.97},
        usage=common_pb2.ResourceUsage(
            wall_time=duration_pb2.Duration(seconds=90), cpu_time=duration_pb2.Duration(seconds=80)
        ),
        cost=common_pb2.Amount(currency_code="CNY", minor_units=1234),
    )
    job = ds.Job(proto, client=None)  # type: ignore[arg-type]

    metrics = ds.TaskMetrics.of(job)

    assert metrics.status == "COMPLETED"
    assert metrics["loss"] == 0.12
    assert dict(metrics) == {"loss": 0.12, "accuracy": 0.97}
    assert metrics.usage is not None
    assert metrics.usage.wall_time.total_seconds() == 90
    assert metrics.cost == ds.Amount("CNY", 1234)
    assert metrics.exit_code == 0


def test_unlimited_quota_limits_read_as_none_and_kinds_index_the_quota() -> None:
    quota = ds.Quota.from_proto(
        account_pb2.Quota(
            user_id="u",
            limits=[
                account_pb2.QuotaLimit(
                    kind=account_pb2.QUOTA_KIND_GPUS, limit=-1, usage=3, unit="gpus"
                ),
                account_pb2.QuotaLimit(
                    kind=account_pb2.QUOTA_KIND_MONTHLY_BUDGET,
                    limit=100_000,
                    usage=250,
                    unit="CNY",
                    overridden=True,
                ),
            ],
        )
    )

    assert quota["gpus"] == ds.QuotaLimit("GPUS", None, 3, "gpus", False)
    assert quota["MONTHLY_BUDGET"].limit == 100_000
    assert quota["MONTHLY_BUDGET"].overridden
    with pytest.raises(KeyError):
        quota["NODES"]


def test_usage_collects_every_page_and_keeps_money_in_minor_units() -> None:
    line = account_pb2.UsageLine(
        job_id="job-1",
        core_seconds=64,
        gpu_seconds=[account_pb2.GpuSeconds(gpu_type=common_pb2.GPU_TYPE_A100, seconds=8)],
        cost=common_pb2.Amount(currency_code="CNY", minor_units=7),
    )
    total = common_pb2.Amount(currency_code="CNY", minor_units=14)
    pages = [
        account_pb2.GetUsageResponse(lines=[line], total_cost=total, next_page_token="p2"),
        account_pb2.GetUsageResponse(lines=[line], total_cost=total),
    ]

    usage = usage_of(pages)

    assert len(usage.lines) == 2
    assert usage.lines[0].gpu_seconds == {"A100": 8}
    assert usage.total_cost == ds.Amount("CNY", 14)
    assert isinstance(usage.total_cost.minor_units, int)


def test_usage_windows_must_be_timezone_aware() -> None:
    request = usage_request(None, datetime(2026, 1, 1, tzinfo=UTC), None, 1000)

    assert request.start_time.seconds == int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    with pytest.raises(ValueError, match="timezone-aware"):
        usage_request(None, datetime(2026, 1, 1), None, 1000)


def test_quota_kinds_are_named_as_the_sdk_shows_them() -> None:
    assert kind_numbers(["gpus", "QUOTA_KIND_NODES"]) == [
        account_pb2.QUOTA_KIND_GPUS,
        account_pb2.QUOTA_KIND_NODES,
    ]
    with pytest.raises(ValueError, match="kinds"):
        kind_numbers(["cores"])


def test_watching_the_audit_log_from_zero_replays_it_and_none_only_tails() -> None:
    replay = watch_records_request(0, user_id=None, action=None, resource_id=None, status_code=0)
    tail = watch_records_request(
        None, user_id=None, action="job.create", resource_id=None, status_code=None
    )

    assert replay.HasField("after_sequence")
    assert replay.HasField("status_code")
    assert not tail.HasField("after_sequence")
    assert not tail.HasField("status_code")
    assert tail.action == "job.create"


def test_a_broken_audit_chain_is_falsy_and_says_where() -> None:
    broken = ds.AuditChainVerification.from_proto(
        audit_pb2.VerifyAuditChainResponse(
            ok=False, records_checked=10, first_broken_sequence=7, problem="hash mismatch"
        )
    )
    whole = ds.AuditChainVerification.from_proto(
        audit_pb2.VerifyAuditChainResponse(ok=True, records_checked=10)
    )

    assert not broken
    assert broken.first_broken_sequence == 7
    assert broken.problem == "hash mismatch"
    assert whole
    assert whole.first_broken_sequence is None
