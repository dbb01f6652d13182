"""What sbatch gets for a job: its options and a batch script that runs the command as given."""

from __future__ import annotations

import subprocess
from pathlib import Path

from deepseek_server.executors import GpuType, LaunchRequest, Resources
from deepseek_server.executors.slurm import SubmitOptions
from deepseek_server.executors.slurm._script import (
    batch_script,
    job_name,
    sbatch_arguments,
    time_limit_minutes,
)


def request(tmp_path: Path, command: str, **fields: object) -> LaunchRequest:
    values: dict[str, object] = {
        "job_id": "job-1",
        "command": command,
        "environment": {"PATH": "/usr/bin:/bin", "ODD": 'it\'s $HOME `x` "q"\nline2'},
        "workdir": tmp_path,
        "stdout_path": tmp_path / "100%" / "stdout.log",
        "stderr_path": tmp_path / "stderr.log",
        "control_dir": tmp_path / "control",
        "timeout_seconds": 61,
        **fields,
    }
    return LaunchRequest(**values)  # type: ignore[arg-type]


def test_the_script_gives_the_command_its_environment_verbatim(tmp_path: Path) -> None:
    command = 'printf "%s|%s" "$ODD" "${CUDA_VISIBLE_DEVICES-unset}"'
    script = batch_script(request(tmp_path, command))

    run = subprocess.run(
        ["/usr/bin/env", "-i", "/bin/sh", "-s"],
        input=script,
        capture_output=True,
        text=True,
        check=True,
    )

    # No GPUs asked for: CUDA_VISIBLE_DEVICES is set, and empty.
    assert run.stdout == 'it\'s $HOME `x` "q"\nline2|'


def test_a_multi_node_job_runs_the_command_once_per_node_through_srun(tmp_path: Path) -> None:
    script = batch_script(request(tmp_path, "hostname", resources=Resources(nodes=4)))

    assert script.splitlines()[-1] == (
        "exec srun --export=ALL --nodes=4 --ntasks-per-node=1 --kill-on-bad-exit=1 "
        "/bin/sh -c hostname"
    )


def test_options_map_the_spec_and_the_settings(tmp_path: Path) -> None:
    resources = Resources(
        nodes=2, cpus_per_node=8, gpus_per_node=2, gpu_type=GpuType.H100, memory_gb=16
    )
    spec = request(tmp_path, "true", resources=resources, after=("11", "12"))

    arguments = sbatch_arguments(
        spec, "dsg-x-job-1", SubmitOptions(partition="gpu", account="proj", qos="high")
    )

    assert arguments == [
        "--job-name=dsg-x-job-1",
        "--export=NONE",
        "--no-requeue",
        "--open-mode=append",
        f"--chdir={tmp_path}",
        f"--output={tmp_path}/100%%/stdout.log",
        f"--error={tmp_path}/stderr.log",
        "--nodes=2",
        "--ntasks-per-node=1",
        "--cpus-per-task=8",
        "--time=2",
        "--mem=16384M",
        "--gpus-per-node=h100:2",
        "--dependency=afterok:11:12",
        "--kill-on-invalid-dep=yes",
        "--partition=gpu",
        "--account=proj",
        "--qos=high",
    ]


def test_time_limits_are_whole_minutes_rounded_up() -> None:
    assert [time_limit_minutes(s) for s in (1, 59, 60, 61, 7200)] == [1, 1, 1, 2, 120]


def test_job_names_carry_the_installation_and_the_job() -> None:
    assert job_name("0123456789abcdef0123", "job-abc") == "dsg-0123456789abcdef-job-abc"
