"""The platform guide's section 四 samples, run against a real gateway with real credentials.

The code of each sample is the guide's, changed only where the guide says users change it:
the endpoint, the credentials and the command run. The guide's ``DeepSeekClient(...)`` in 4.2 is
filled in with the same endpoint and credentials, and its 60 s polling sleep in 4.1 is shortened
to 0.2 s. The commands stand in for gromacs and ``train.py``, which the test machine lacks:

- 4.1's command reads both uploaded inputs and writes output files into the working directory,
  one frame file per node (``frames/rank<N>.pdb``, N = ``SLURM_PROCID``, 0 where unset) and,
  from rank 0, ``checksums.txt``; the results downloaded are checked byte for byte.
- 4.2's command is a shell function ``train`` taking the guide's arguments: rank 0 writes a
  checkpoint file into the working directory and reports ``segment``, ``batch_size`` and
  ``loss`` as metrics through ``DEEPSEEK_METRICS_FILE``, the way a training script reports them.

On the Slurm test cluster (``scripts/slurm-cluster``: 8 nodes of 32 CPUs, 600 GB and 8 GPUs)
the resource specs are exactly the guide's: 8 nodes x 4 GPUs x 512 GB for 4.1, ``nodes=4`` for
each of 4.2's eight segments (run in the guide's ``ThreadPoolExecutor(max_workers=8)``), with
the sync client as written and with the async client (``asyncio.gather`` in place of the
thread pool). Each reaches COMPLETED with its results downloaded (4.1) or its metrics (4.2).

The local executor is a single node (made as large as one of the guide's: 4 GPUs, 512 GB), so
there the exact 4.1 spec is shown to be refused at creation with ``spec.resource_spec.nodes``
named, and the flows run as a *local-executor adaptation* with ``nodes`` 1 instead of 8 and 4,
their only difference from the Slurm runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import deepseek_api as ds
from deepseek_api import AsyncDeepSeekClient, DeepSeekClient, TaskMetrics

POLL_SECONDS = 0.2
# The guide's node counts, used as written on the Slurm cluster; the local executor has one node.
MD_NODES = {"slurm": 8, "local": 1}
TRAINING_NODES = {"slurm": 4, "local": 1}
TOPOL = b"topology of a folded protein\n" * 1000
CONF = b"ATOM      1  N   MET A   1      27.340  24.430   2.614\n" * 2000
# Where the guide runs gromacs: reads both uploaded inputs, each node writes its own frame file
# and rank 0 the checksums (multi-node jobs run the command once per node).
MD_COMMAND = (
    'rank="${SLURM_PROCID:-0}"; mkdir -p frames'
    ' && cat topol.tpr conf.gro > "frames/rank$rank.pdb"'
    ' && if [ "$rank" = 0 ]; then sha256sum topol.tpr conf.gro > checksums.txt; fi'
)
# Where the guide runs `python train.py --segment N <config>`: a shell function taking the
# same arguments; rank 0 writes a checkpoint and reports the arguments and a loss as metrics.
TRAIN = (
    'train() { [ "${SLURM_PROCID:-0}" = 0 ] || return 0;'
    ' echo "weights of segment $2" > "checkpoint-$2.pt";'
    ' echo "{\\"segment\\": $2, \\"batch_size\\": $4, \\"loss\\": 0.$2}"'
    ' >> "$DEEPSEEK_METRICS_FILE"; }; train'
)
GUIDE_MD_RESOURCES = {"nodes": 8, "gpus_per_node": 4, "memory_gb": 512}


@pytest.fixture
def inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The guide's input files in the working directory, as its relative paths expect."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "topol.tpr").write_bytes(TOPOL)
    (tmp_path / "conf.gro").write_bytes(CONF)
    return tmp_path


def molecular_dynamics(endpoint: str, credentials: dict[str, str], nodes: int) -> ds.Job:
    """Section 4.1 as written, returning the job to look at (``nodes`` is the guide's 8 on
    Slurm, 1 in the local-executor adaptation)."""
    # 初始化客户端
    client = ds.DeepSeekClient(
        endpoint=endpoint,
        credentials={
            "client_id": credentials["client_id"],
            "client_secret": credentials["client_secret"],
        },
    )
    # 创建计算任务
    job_spec = {
        "job_name": "protein_folding_2023",
        "resource_spec": {
            "nodes": nodes,
            "gpus_per_node": 4,
            "memory_gb": 512,
        },
        "command": MD_COMMAND,
        "environment": {"GROMACS_VERSION": "2023.1", "CUDA_VISIBLE_DEVICES": "all"},
    }
    try:
        job = client.create_job(job_spec)
        client.upload_input_files(job.id, ["topol.tpr", "conf.gro"])
        job.submit()
        while job.status not in ["COMPLETED", "FAILED"]:
            time.sleep(POLL_SECONDS)
            job.refresh()
        if job.status == "COMPLETED":
            client.download_results(job.id, "./output/")
    except ds.APIException as e:
        print(f"API Error: {e.code} - {e.message}")
    return job


def check_md_job(job: ds.Job | ds.AsyncJob, nodes: int) -> None:
    """Completed, with the guide's spec (but for ``nodes`` in the local adaptation)."""
    assert (job.status, job.exit_code) == ("COMPLETED", 0)
    resources = job.spec.resource_spec
    assert (resources.nodes, resources.gpus_per_node, resources.memory_gb) == (nodes, 4, 512)


def check_md_results(directory: Path, nodes: int) -> None:
    """What the job wrote arrived whole: the outputs of every node, and only the outputs."""
    frames = [f"frames/rank{rank}.pdb" for rank in range(nodes)]
    assert sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*")) == sorted(
        ["checksums.txt", "frames", *frames]
    )
    for frame in frames:
        assert (directory / frame).read_bytes() == TOPOL + CONF
    checksums = (directory / "checksums.txt").read_text()
    assert hashlib.sha256(TOPOL).hexdigest() in checksums
    assert hashlib.sha256(CONF).hexdigest() in checksums


async def test_molecular_dynamics_sample_completes_with_results_downloaded(
    endpoint: str,
    credentials: dict[str, str],
    inputs: Path,
    capsys: pytest.CaptureFixture[str],
    executor_kind: str,
) -> None:
    """Slurm: the guide's 8 x 4 GPUs x 512 GB. Local-executor adaptation: 1 node."""
    nodes = MD_NODES[executor_kind]
    job = await asyncio.to_thread(molecular_dynamics, endpoint, credentials, nodes)

    assert capsys.readouterr().out == ""
    check_md_job(job, nodes)
    check_md_results(inputs / "output", nodes)


@pytest.mark.executors("local")
async def test_the_guide_spec_beyond_the_single_local_node_is_refused_with_the_field_named(
    endpoint: str, credentials: dict[str, str]
) -> None:
    with (
        DeepSeekClient(endpoint, credentials) as client,
        pytest.raises(ds.InvalidArgument) as refused,
    ):
        await asyncio.to_thread(
            client.create_job,
            {
                "job_name": "protein_folding_2023",
                "resource_spec": GUIDE_MD_RESOURCES,
                "command": MD_COMMAND,
                "environment": {"GROMACS_VERSION": "2023.1", "CUDA_VISIBLE_DEVICES": "all"},
            },
        )

    assert refused.value.code == "INVALID_ARGUMENT"
    assert [v.field for v in refused.value.field_violations] == ["spec.resource_spec.nodes"]


async def test_molecular_dynamics_sample_with_the_async_client(
    endpoint: str, credentials: dict[str, str], inputs: Path, executor_kind: str
) -> None:
    """4.1 through the async client. Slurm: the guide's spec; local adaptation: 1 node."""
    nodes = MD_NODES[executor_kind]
    async with ds.AsyncDeepSeekClient(endpoint=endpoint, credentials=credentials) as client:
        job = await client.create_job(
            {
                "job_name": "protein_folding_2023",
                "resource_spec": {**GUIDE_MD_RESOURCES, "nodes": nodes},
                "command": MD_COMMAND,
                "environment": {"GROMACS_VERSION": "2023.1", "CUDA_VISIBLE_DEVICES": "all"},
            }
        )
        await client.upload_input_files(job.id, ["topol.tpr", "conf.gro"])
        await job.submit()
        while job.status not in ["COMPLETED", "FAILED"]:
            await asyncio.sleep(POLL_SECONDS)
            await job.refresh()
        check_md_job(job, nodes)
        await client.download_results(job.id, "./output/")

    check_md_results(inputs / "output", nodes)


def distributed_training(endpoint: str, credentials: dict[str, str], nodes: int) -> list[object]:
    """Section 4.2 as written (``DeepSeekClient(...)`` filled in), returning ``results``
    (``nodes`` is the guide's 4 on Slurm, 1 in the local-executor adaptation)."""

    def train_model_segment(segment_id: int, config: str) -> TaskMetrics:
        api_client = DeepSeekClient(endpoint, credentials)
        task = api_client.create_ml_task(
            framework="pytorch",
            nodes=nodes,
            command=f"{TRAIN} --segment {segment_id} {config}",
        )
        task.wait_for_completion()
        return task.get_metrics()

    with ThreadPoolExecutor(max_workers=8) as executor:
        results = list(
            executor.map(
                train_model_segment, range(8), ["--batch_size 256", "--batch_size 512"] * 4
            )
        )
    return list(results)


def check_training_results(results: list[object]) -> None:
    """Eight completed segments, each with its own metrics, usage and cost."""
    assert len(results) == 8
    for segment, result in enumerate(results):
        assert isinstance(result, TaskMetrics)
        assert (result.status, result.exit_code) == ("COMPLETED", 0), result
        assert dict(result) == {
            "segment": segment,
            "batch_size": 256 if segment % 2 == 0 else 512,
            "loss": float(f"0.{segment}"),
        }
        assert result.usage is not None
        assert result.cost is not None
        assert result.cost.minor_units >= 0


async def check_training_jobs(
    client: AsyncDeepSeekClient, results: list[object], nodes: int
) -> None:
    """Each segment ran as a pytorch task on ``nodes`` nodes and left its checkpoint."""
    tasks = [job async for job in client.list_jobs(labels={"framework": "pytorch"})]
    assert sorted(t.id for t in tasks) == sorted(
        r.job_id for r in results if isinstance(r, TaskMetrics)
    )
    assert {t.spec.resource_spec.nodes for t in tasks} == {nodes}
    for segment, result in enumerate(results):
        assert isinstance(result, TaskMetrics)
        outputs = [f.path async for f in client.list_files(result.job_id, area="OUTPUT")]
        assert outputs == [f"checkpoint-{segment}.pt"]


async def test_distributed_training_sample_runs_eight_segments_in_threads(
    endpoint: str, credentials: dict[str, str], executor_kind: str
) -> None:
    """Slurm: the guide's ``nodes=4``. Local-executor adaptation: ``nodes=1``."""
    nodes = TRAINING_NODES[executor_kind]
    results = await asyncio.to_thread(distributed_training, endpoint, credentials, nodes)

    check_training_results(results)
    async with AsyncDeepSeekClient(endpoint, credentials) as client:
        await check_training_jobs(client, results, nodes)


async def test_distributed_training_with_the_async_client(
    endpoint: str, credentials: dict[str, str], executor_kind: str
) -> None:
    """4.2 through the async client. Slurm: ``nodes=4``; local adaptation: ``nodes=1``."""
    nodes = TRAINING_NODES[executor_kind]
    configs = ["--batch_size 256", "--batch_size 512"] * 4
    async with AsyncDeepSeekClient(endpoint, credentials) as client:

        async def train_model_segment(segment_id: int, config: str) -> TaskMetrics:
            task = await client.create_ml_task(
                framework="pytorch", nodes=nodes, command=f"{TRAIN} --segment {segment_id} {config}"
            )
            await task.wait_for_completion()
            return await task.get_metrics()

        results = await asyncio.gather(*map(train_model_segment, range(8), configs))
        check_training_results(list(results))
        await check_training_jobs(client, list(results), nodes)
