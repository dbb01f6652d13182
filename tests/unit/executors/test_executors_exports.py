"""The executors package's public names are chosen, not accidental."""

from __future__ import annotations

import subprocess
import sys

import deepseek_server.executors as executors
from deepseek_server.executors import Executor, LocalExecutor
from deepseek_server.executors.slurm import SlurmCommands, SlurmExecutor


def test_exported_names() -> None:
    assert sorted(executors.__all__) == [
        "Capabilities",
        "Executor",
        "ExecutorUnavailable",
        "GpuType",
        "LaunchRequest",
        "LocalExecutor",
        "Outcome",
        "OutcomeKind",
        "Partition",
        "Resources",
    ]
    for name in executors.__all__:
        assert getattr(executors, name) is not None


def test_local_executor_satisfies_the_protocol() -> None:
    executor: Executor = LocalExecutor(cpus=1, memory_gb=1)

    assert executor.name == "local"


def test_supervisor_imports_only_the_standard_library_cheaply() -> None:
    from deepseek_server.executors import supervisor

    # Without arguments the supervisor prints its usage and exits 2, after all its imports.
    run = subprocess.run(
        [sys.executable, "-I", "-S", "-X", "importtime", supervisor.__file__],
        capture_output=True,
        text=True,
        check=False,
    )
    loaded = {
        line.rsplit("|", 1)[1].strip()
        for line in run.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }

    assert run.returncode == 2
    assert {"ctypes", "json", "signal"} <= loaded
    assert not {"asyncio", "typing", "datetime", "subprocess", "deepseek_server"} & loaded


def test_slurm_executor_satisfies_the_protocol() -> None:
    executor: Executor = SlurmExecutor(SlurmCommands())

    assert executor.name == "slurm"
