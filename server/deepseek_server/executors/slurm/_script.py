"""What is handed to sbatch for a job: its options, and the batch script read from stdin.

The script sets the job's environment (sbatch runs it with ``--export=NONE``, so nothing of the
gateway's own environment leaks in) and runs the command with ``/bin/sh -c``: on one node
directly, on several nodes through ``srun``, once per node, so that every node runs it.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass

from deepseek_server.executors.base import LaunchRequest

NAME_PREFIX = "dsg"


@dataclass(frozen=True, slots=True)
class SubmitOptions:
    """Options of every job that come from the settings; empty ones are left to Slurm."""

    partition: str = ""
    account: str = ""
    qos: str = ""


def job_name(installation_id: str, job_id: str) -> str:
    """The Slurm job name of a gateway job: unique, and findable after a crash."""
    return f"{NAME_PREFIX}-{installation_id[:16]}-{job_id}"


def time_limit_minutes(timeout_seconds: int) -> int:
    """Slurm's limit in whole minutes, rounded up (the gateway ends the job on the second)."""
    return max(1, math.ceil(timeout_seconds / 60))


def sbatch_arguments(request: LaunchRequest, name: str, options: SubmitOptions) -> list[str]:
    """sbatch's options for ``request``."""
    resources = request.resources
    arguments = [
        f"--job-name={name}",
        "--export=NONE",
        # The gateway reports a node failure; it does not want Slurm to run the job again.
        "--no-requeue",
        "--open-mode=append",
        f"--chdir={request.workdir.absolute()}",
        f"--output={_pattern(str(request.stdout_path.absolute()))}",
        f"--error={_pattern(str(request.stderr_path.absolute()))}",
        f"--nodes={resources.nodes}",
        "--ntasks-per-node=1",
        f"--cpus-per-task={resources.cpus_per_node}",
        f"--time={time_limit_minutes(request.timeout_seconds)}",
    ]
    if resources.memory_gb:
        arguments.append(f"--mem={resources.memory_gb * 1024}M")
    if resources.gpus_per_node:
        kind = resources.gpu_type.value.lower() if resources.gpu_type else ""
        count = resources.gpus_per_node
        arguments.append(f"--gpus-per-node={kind}:{count}" if kind else f"--gpus-per-node={count}")
    if request.after:
        arguments += [
            f"--dependency=afterok:{':'.join(request.after)}",
            "--kill-on-invalid-dep=yes",
        ]
    for option, value in (
        ("--partition", options.partition),
        ("--account", options.account),
        ("--qos", options.qos),
    ):
        if value:
            arguments.append(f"{option}={value}")
    return arguments


def batch_script(request: LaunchRequest) -> str:
    """The batch script of ``request``."""
    lines = ["#!/bin/sh", f"# DeepSeek gateway job {request.job_id}"]
    environment = dict(request.environment)
    if not request.resources.gpus_per_node:
        # Empty, not unset: a job must not see GPUs it did not ask for.
        environment["CUDA_VISIBLE_DEVICES"] = ""
    lines += [f"export {key}={shlex.quote(value)}" for key, value in environment.items()]
    command = ["/bin/sh", "-c", request.command]
    if request.resources.nodes > 1:
        command = [
            "srun",
            "--export=ALL",
            f"--nodes={request.resources.nodes}",
            "--ntasks-per-node=1",
            "--kill-on-bad-exit=1",
            *command,
        ]
    lines.append("exec " + shlex.join(command))
    return "\n".join(lines) + "\n"


def _pattern(path: str) -> str:
    """A path as a literal sbatch filename pattern (``%`` introduces a replacement)."""
    return path.replace("%", "%%")
