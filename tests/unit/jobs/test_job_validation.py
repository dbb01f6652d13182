"""The platform's limits on job specs: every bad field named, at once."""

from __future__ import annotations

import pytest

from deepseek_server.executors.base import Capabilities, GpuType, Partition
from deepseek_server.jobs.model import JobSpec
from deepseek_server.jobs.validation import validate_spec

LOCAL = Capabilities(
    executor="local",
    partitions=(Partition("local", 1, 8, 32, 2, (GpuType.A100,), 86400),),
    queues_itself=False,
)
CLUSTER = Capabilities(
    executor="slurm",
    partitions=(
        Partition("cpu", 64, 128, 512, 0, (), 30 * 86400),
        Partition("gpu", 16, 32, 256, 8, (GpuType.A100, GpuType.H100), 30 * 86400),
    ),
    queues_itself=True,
)


def fields(spec: JobSpec, capabilities: Capabilities = LOCAL) -> dict[str, str]:
    _, violations = validate_spec(spec, capabilities)
    return {v.field: v.description for v in violations}


def test_a_minimal_spec_gets_the_platform_defaults() -> None:
    spec, violations = validate_spec(JobSpec(job_name="md", command="true"), LOCAL)

    assert violations == []
    assert (spec.cpus_per_node, spec.timeout_seconds, spec.gpu_type) == (1, 7200, None)


def test_gpus_without_a_type_get_the_executors_first_type() -> None:
    spec, violations = validate_spec(JobSpec("t", "true", gpus_per_node=2), CLUSTER)

    assert violations == []
    assert spec.gpu_type is GpuType.A100


def test_every_bad_field_is_reported_at_once() -> None:
    spec = JobSpec(
        job_name="",
        command=" ",
        nodes=0,
        cpus_per_node=-1,
        gpus_per_node=9,
        memory_gb=-5,
        timeout_seconds=-1,
        gpu_type="#7",
        environment={"1BAD": "x", "DEEPSEEK_JOB_ID": "spoof", "OK": "a\x00b"},
        labels={"Team": "x", "team": "Bad Value"},
        dependencies=("job-!!", "Not A Dataset", "data", "data"),
    )

    assert fields(spec) == {
        "spec.job_name": "is required",
        "spec.command": "is required",
        "spec.resource_spec.nodes": "must be between 1 and 1024, got 0",
        "spec.resource_spec.cpus_per_node": "must be between 0 and 256, got -1",
        "spec.resource_spec.gpus_per_node": "must be between 0 and 8, got 9",
        "spec.resource_spec.memory_gb": "must be between 0 and 65536, got -5",
        "spec.timeout": "must be between 0 and 2592000, got -1",
        "spec.resource_spec.gpu_type": "unknown GPU type '#7'; known types: A100, H100",
        "spec.environment['1BAD']": "variable names match [A-Za-z_][A-Za-z0-9_]* and have at "
        "most 128 characters",
        "spec.environment['DEEPSEEK_JOB_ID']": "names starting with DEEPSEEK_ are reserved",
        "spec.environment['OK']": "values must not contain NUL characters",
        "spec.labels['Team']": "keys are 1-63 characters of a-z, 0-9, '_', '-' starting with a "
        "letter",
        "spec.labels['team']": "values are 0-63 characters of a-z, 0-9, '_', '-'",
        "spec.dependencies[0]": "'job-!!' is not a valid job id",
        "spec.dependencies[1]": "'Not A Dataset' is neither a job id (job-...) nor a dataset name "
        "(1-63 characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit)",
        "spec.dependencies[3]": "'data' is listed twice",
    }


@pytest.mark.parametrize(
    ("spec", "field", "text"),
    [
        (JobSpec("x" * 129, "true"), "spec.job_name", "at most 128 characters, got 129"),
        (JobSpec("a\nb", "true"), "spec.job_name", "must not contain control characters"),
        (JobSpec("x", "a" * 65537), "spec.command", "at most 65536 bytes, got 65537"),
        (JobSpec("x", "echo \x00"), "spec.command", "must not contain NUL characters"),
        (
            JobSpec("x", "true", environment={f"V{i}": "" for i in range(257)}),
            "spec.environment",
            "at most 256 variables, got 257",
        ),
        (
            JobSpec("x", "true", environment={"BIG": "v" * 70000}),
            "spec.environment",
            "at most 65536 bytes in total, got 70003",
        ),
        (
            JobSpec("x", "true", labels={f"k{i}": "" for i in range(65)}),
            "spec.labels",
            "at most 64 labels, got 65",
        ),
        (
            JobSpec("x", "true", dependencies=tuple(f"d{i}" for i in range(101))),
            "spec.dependencies",
            "at most 100 dependencies, got 101",
        ),
        (
            JobSpec("x", "true", gpu_type=GpuType.H100),
            "spec.resource_spec.gpu_type",
            "must be unspecified when gpus_per_node is 0",
        ),
    ],
)
def test_limits(spec: JobSpec, field: str, text: str) -> None:
    assert text in fields(spec)[field]


def test_a_spec_the_local_executor_can_never_run_is_refused_by_field() -> None:
    spec = JobSpec("x", "true", nodes=4, cpus_per_node=16, memory_gb=64, timeout_seconds=90000)

    assert fields(spec) == {
        "spec.resource_spec.nodes": "partition 'local' has at most 1 nodes on the local executor",
        "spec.resource_spec.cpus_per_node": "partition 'local' has 8 CPUs per node on the local "
        "executor",
        "spec.resource_spec.memory_gb": "partition 'local' has 32 GiB per node on the local "
        "executor",
        "spec.timeout": "partition 'local' allows at most 86400 s on the local executor",
    }


def test_a_gpu_type_no_partition_offers_is_refused() -> None:
    spec = JobSpec("x", "true", gpus_per_node=1, gpu_type=GpuType.H100)

    assert fields(spec) == {
        "spec.resource_spec.gpu_type": "partition 'local' offers GPU types: A100 on the local "
        "executor"
    }


def test_a_spec_that_fits_some_partition_is_accepted_and_one_that_fits_none_as_a_whole_is_not() -> (
    None
):
    fits_gpu_partition = JobSpec("x", "true", nodes=8, cpus_per_node=32, gpus_per_node=4)
    fits_parts_only = JobSpec("x", "true", nodes=32, cpus_per_node=32, gpus_per_node=4)

    assert fields(fits_gpu_partition, CLUSTER) == {}
    assert fields(fits_parts_only, CLUSTER) == {
        "spec.resource_spec": "no partition of the slurm executor offers all of it at once"
    }


def test_the_quick_fit_check_agrees_with_the_reasons_given() -> None:
    from itertools import product

    from deepseek_server.jobs.validation import _fits, _misfits

    partition = CLUSTER.partitions[1]
    for nodes, cpus, gpus, gpu_type, memory, timeout in product(
        (1, 16, 17), (1, 32, 33), (0, 8, 9), (None, GpuType.A100, "#99"), (0, 256, 257),
        (60, 30 * 86400, 30 * 86400 + 1),
    ):  # fmt: skip
        spec = JobSpec("j", "true", nodes, cpus, gpus, gpu_type, memory, timeout, (), {}, {})
        assert _fits(spec, partition) == (not _misfits(spec, partition)), spec
