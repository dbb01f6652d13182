"""What only a cluster can show: several nodes, GPUs, and a spec refused by what the cluster has."""

from __future__ import annotations

import pytest

import deepseek_api as ds
from tests.support import spec


async def read_stdout(client: ds.AsyncDeepSeekClient, job_id: str) -> str:
    return b"".join([chunk async for chunk in client.read_logs(job_id)]).decode()


async def test_a_job_on_all_eight_nodes_runs_its_command_once_on_every_node(
    client: ds.AsyncDeepSeekClient,
) -> None:
    job = await client.create_job(
        {
            **spec('echo "$SLURMD_NODENAME $SLURM_PROCID $DEEPSEEK_NODES"'),
            "resource_spec": {"nodes": 8, "cpus_per_node": 2},
        },
        submit=True,
    )
    await job.wait(timeout=60)

    lines = sorted((await read_stdout(client, job.id)).splitlines())
    assert (job.status, job.exit_code) == ("COMPLETED", 0)
    assert lines == [f"n{rank + 1} {rank} 8" for rank in range(8)]


async def test_a_gpu_job_sees_its_gpus_and_a_cpu_job_sees_none(
    client: ds.AsyncDeepSeekClient,
) -> None:
    show = 'echo "[$CUDA_VISIBLE_DEVICES]"'
    gpu_job = await client.create_job(
        {
            **spec(show),
            "resource_spec": {"nodes": 1, "gpus_per_node": 2, "gpu_type": "A100"},
        },
        submit=True,
    )
    cpu_job = await client.create_job(spec(show), submit=True)
    await gpu_job.wait(timeout=60)
    await cpu_job.wait(timeout=60)

    assert gpu_job.status == "COMPLETED"
    assert await read_stdout(client, gpu_job.id) == "[0,1]\n"
    assert await read_stdout(client, cpu_job.id) == "[]\n"


async def test_the_capabilities_are_the_clusters_partition(
    client: ds.AsyncDeepSeekClient,
) -> None:
    capabilities = await client.get_capabilities()

    assert capabilities.executor == "slurm"
    assert capabilities.partitions == (
        ds.Partition(
            name="batch",
            max_nodes=8,
            cpus_per_node=32,
            memory_gb_per_node=600,
            gpus_per_node=8,
            gpu_types=("A100",),
            max_timeout_seconds=30 * 86400,
        ),
    )


@pytest.mark.parametrize(
    ("resources", "field"),
    [
        ({"nodes": 9}, "nodes"),
        ({"nodes": 1, "cpus_per_node": 33}, "cpus_per_node"),
        ({"nodes": 1, "memory_gb": 601}, "memory_gb"),
        ({"nodes": 1, "gpus_per_node": 2, "gpu_type": "H100"}, "gpu_type"),
    ],
)
async def test_a_spec_too_large_for_the_cluster_is_refused_at_creation(
    client: ds.AsyncDeepSeekClient, resources: dict[str, object], field: str
) -> None:
    with pytest.raises(ds.InvalidArgument) as refused:
        await client.create_job({**spec("true"), "resource_spec": resources}, submit=True)

    (violation,) = refused.value.field_violations
    assert violation.field == f"spec.resource_spec.{field}"
    assert "partition 'batch'" in violation.description
    assert [job async for job in client.list_jobs()] == []
