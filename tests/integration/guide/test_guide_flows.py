"""The platform guide's section 四 samples, run against a real gateway with real credentials.

The code of each sample is the guide's, changed only where the guide says users change it:
the endpoint, the credentials and the command run (and the 60 s polling sleep, shortened).
One more change is forced by the test machine, and stated where it is made: the guide's
jobs span 8 nodes (4.1) and 4 nodes (4.2). The local executor is a single node, so on it
they run on 1 node; 4.2 runs on its 4 nodes on the Slurm test cluster, which has 4 nodes.
4.1's 8 nodes of 512 GB fit neither, and the exact spec is shown to be refused clearly.
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
TOPOL = b"topology of a folded protein\n" * 1000
CONF = b"ATOM      1  N   MET A   1      27.340  24.430   2.614\n" * 2000
# Reads both uploaded inputs and writes output files, where the guide runs gromacs.
MD_COMMAND = (
    "mkdir -p frames && cat topol.tpr conf.gro > frames/folded.pdb"
    " && sha256sum topol.tpr conf.gro > checksums.txt"
)
# Where the guide runs `python train.py --segment N <config>`: a shell function taking the
# same arguments, reporting them as metrics the way a training script reports its loss.
TRAIN = (
    'train() { echo "{\\"segment\\": $2, \\"batch_size\\": $4, \\"loss\\": 0.$2}"'
    ' >> "$DEEPSEEK_METRICS_FILE"; }; train'
)


@pytest.fixture
def inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The guide's input files in the working directory, as its relative paths expect."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "topol.tpr").write_bytes(TOPOL)
    (tmp_path / "conf.gro").write_bytes(CONF)
    return tmp_path


def molecular_dynamics(endpoint: str, credentials: dict[str, str], nodes: int) -> ds.Job:
    """Section 4.1 as written, returning the job to look at."""
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
            "nodes": nodes,  # the guide's 8; see the module docstring
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


def check_md_results(directory: Path) -> None:
    """What the job wrote arrived whole: the outputs, and only the outputs."""
    assert sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*")) == [
        "checksums.txt",
        "frames",
        "frames/folded.pdb",
    ]
    assert (directory / "frames" / "folded.pdb").read_bytes() == TOPOL + CONF
    checksums = (directory / "checksums.txt").read_text()
    assert hashlib.sha256(TOPOL).hexdigest() in checksums
    assert hashlib.sha256(CONF).hexdigest() in checksums


@pytest.mark.executors("local")
async def test_molecular_dynamics_sample_completes_with_results_downloaded(
    endpoint: str,
    credentials: dict[str, str],
    inputs: Path,
    capsys: pytest.CaptureFixture[str],
    executor_kind: str,
) -> None:
    job = await asyncio.to_thread(molecular_dynamics, endpoint, credentials, 1)

    assert capsys.readouterr().out == ""
    assert job.status == "COMPLETED"
    assert job.exit_code == 0
    check_md_results(inputs / "output")


async def test_guide_spec_beyond_every_node_is_refused_with_the_field_named(
    endpoint: str, credentials: dict[str, str], executor_kind: str
) -> None:
    with (
        DeepSeekClient(endpoint, credentials) as client,
        pytest.raises(ds.InvalidArgument) as refused,
    ):
        await asyncio.to_thread(
            client.create_job,
            {
                "job_name": "protein_folding_2023",
                "resource_spec": {"nodes": 8, "gpus_per_node": 4, "memory_gb": 512},
                "command": MD_COMMAND,
            },
        )

    assert refused.value.code == "INVALID_ARGUMENT"
    assert "spec.resource_spec.nodes" in [v.field for v in refused.value.field_violations]


@pytest.mark.executors("local")
async def test_molecular_dynamics_sample_with_the_async_client(
    endpoint: str, credentials: dict[str, str], inputs: Path
) -> None:
    async with ds.AsyncDeepSeekClient(endpoint=endpoint, credentials=credentials) as client:
        job = await client.create_job(
            {
                "job_name": "protein_folding_2023",
                "resource_spec": {"nodes": 1, "gpus_per_node": 4, "memory_gb": 512},
                "command": MD_COMMAND,
                "environment": {"GROMACS_VERSION": "2023.1"},
            }
        )
        await client.upload_input_files(job.id, ["topol.tpr", "conf.gro"])
        await job.submit()
        while job.status not in ["COMPLETED", "FAILED"]:
            await asyncio.sleep(POLL_SECONDS)
            await job.refresh()
        assert job.status == "COMPLETED"
        await client.download_results(job.id, "./output/")

    check_md_results(inputs / "output")


def distributed_training(endpoint: str, credentials: dict[str, str], nodes: int) -> list[object]:
    """Section 4.2 as written (``DeepSeekClient(...)`` filled in), returning ``results``."""

    def train_model_segment(segment_id: int, config: str) -> TaskMetrics:
        api_client = DeepSeekClient(endpoint, credentials)
        task = api_client.create_ml_task(
            framework="pytorch",
            nodes=nodes,  # the guide's 4 (on Slurm); 1 on the single-node local executor
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
        assert result.status == "COMPLETED", result
        assert dict(result) == {
            "segment": segment,
            "batch_size": 256 if segment % 2 == 0 else 512,
            "loss": float(f"0.{segment}"),
        }
        assert result.usage is not None
        assert result.cost is not None
        assert result.cost.minor_units >= 0


async def test_distributed_training_sample_runs_eight_segments_in_threads(
    endpoint: str, credentials: dict[str, str], executor_kind: str
) -> None:
    nodes = 4 if executor_kind == "slurm" else 1
    results = await asyncio.to_thread(distributed_training, endpoint, credentials, nodes)

    check_training_results(results)


async def test_distributed_training_with_the_async_client(
    endpoint: str, credentials: dict[str, str], executor_kind: str
) -> None:
    nodes = 4 if executor_kind == "slurm" else 1
    configs = ["--batch_size 256", "--batch_size 512"] * 4
    async with AsyncDeepSeekClient(endpoint, credentials) as client:

        async def train_model_segment(segment_id: int, config: str) -> TaskMetrics:
            task = await client.create_ml_task(
                framework="pytorch", nodes=nodes, command=f"{TRAIN} --segment {segment_id} {config}"
            )
            await task.wait_for_completion()
            return await task.get_metrics()

        results = await asyncio.gather(*map(train_model_segment, range(8), configs))
        tasks = [job async for job in client.list_jobs(labels={"framework": "pytorch"})]

    check_training_results(list(results))
    assert len(tasks) == 8
