"""Each job's directory on disk, and what a job sees when it starts."""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from deepseek_server.executors.base import LaunchRequest
from deepseek_server.jobs.model import Job

_log = logging.getLogger(__name__)

METRICS_FILE_VARIABLE = "DEEPSEEK_METRICS_FILE"
MAX_METRICS = 1000


@dataclass(frozen=True, slots=True)
class JobWorkspace:
    """Where a job's files live: ``<root>/<job id>/{inputs,work,control,stdout.log,...}``."""

    root: Path

    def job_dir(self, job_id: str) -> Path:
        """The job's own directory."""
        return self.root / job_id

    def inputs(self, job_id: str) -> Path:
        """Uploaded inputs; placed into the working directory when the job starts."""
        return self.job_dir(job_id) / "inputs"

    def workdir(self, job_id: str) -> Path:
        """The job's working directory: its inputs, then whatever it writes (its outputs)."""
        return self.job_dir(job_id) / "work"

    def log(self, job_id: str, stream: str) -> Path:
        """``stdout`` or ``stderr`` of the job."""
        return self.job_dir(job_id) / f"{stream}.log"

    def metrics(self, job_id: str) -> Path:
        """JSON lines of metrics the job reports."""
        return self.job_dir(job_id) / "metrics.jsonl"

    def launch_request(self, job: Job, base_environment: Mapping[str, str]) -> LaunchRequest:
        """What the executor needs to start ``job`` (or to find it again after a restart)."""
        workdir = self.workdir(job.id)
        spec = job.spec
        environment = {
            **base_environment,
            "HOME": str(workdir),
            **spec.environment,
            "DEEPSEEK_JOB_ID": job.id,
            "DEEPSEEK_JOB_NAME": spec.job_name,
            "DEEPSEEK_WORKDIR": str(workdir),
            "DEEPSEEK_NODES": str(spec.nodes),
            "DEEPSEEK_CPUS_PER_NODE": str(spec.cpus_per_node),
            "DEEPSEEK_GPUS_PER_NODE": str(spec.gpus_per_node),
            "DEEPSEEK_MEMORY_GB": str(spec.memory_gb),
            METRICS_FILE_VARIABLE: str(self.metrics(job.id)),
        }
        return LaunchRequest(
            job_id=job.id,
            command=spec.command,
            environment=environment,
            workdir=workdir,
            stdout_path=self.log(job.id, "stdout"),
            stderr_path=self.log(job.id, "stderr"),
            control_dir=self.job_dir(job.id) / "control",
            timeout_seconds=spec.timeout_seconds,
            resources=spec.resources,
        )

    def prepare(
        self, request: LaunchRequest, inputs: Path, datasets: Mapping[str, Path] | None = None
    ) -> None:
        """Create the job's directories and place its inputs into the working directory, and
        the files of each dataset it depends on under ``<working directory>/<dataset name>``.

        Files are hard-linked where the filesystem allows (no copy), copied otherwise.
        Blocking: run it in a thread.
        """
        request.workdir.mkdir(parents=True, exist_ok=True)
        request.control_dir.mkdir(parents=True, exist_ok=True)
        for log in (request.stdout_path, request.stderr_path):
            log.touch(exist_ok=True)
        if inputs.is_dir():
            _place_tree(inputs, request.workdir)
        for name, source in (datasets or {}).items():
            if source.is_dir():
                _place_tree(source, request.workdir / name)


def _place_tree(source: Path, target: Path) -> None:
    for directory, subdirs, files in os.walk(source):
        relative = Path(directory).relative_to(source)
        (target / relative).mkdir(parents=True, exist_ok=True)
        for name in files:
            destination = target / relative / name
            if destination.exists():
                continue
            try:
                os.link(Path(directory) / name, destination)
            except OSError:  # another filesystem: copied in the kernel, not through memory
                shutil.copyfile(Path(directory) / name, destination)
        subdirs.sort()


def read_metrics(path: Path) -> dict[str, float]:
    """The metrics a job reported: JSON objects of name -> number, one per line, later wins.

    Lines that are not such objects are skipped (the job's file, the job's mistakes). Blocking.
    """
    metrics: dict[str, float] = {}
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return metrics
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        for name, value in entry.items():
            number = _finite_number(value)
            if number is not None and (name in metrics or len(metrics) < MAX_METRICS):
                metrics[str(name)[:128]] = number
    return metrics


def _finite_number(value: object) -> float | None:
    """A reported value as a metric: NaN, infinities and numbers beyond a double are none."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None
