"""The platform guide's machine-learning tasks: jobs labelled with their framework.

A task is an ordinary job, created and submitted at once, whose spec carries

- the label ``framework=<name>``, so that ``list_jobs(labels={"framework": "pytorch"})``
  finds the tasks of a framework, and
- the environment variable ``ML_FRAMEWORK=<name>``, for the training script and its
  launcher (the ``DEEPSEEK_`` prefix is the gateway's own and refused in specs).

The platform does not install frameworks: the command runs in the environment the nodes
provide. Metrics come from the job itself: it appends JSON lines of numbers to the file
named by ``DEEPSEEK_METRICS_FILE`` (``{"loss": 0.12, "accuracy": 0.97}``), and
:meth:`MLTask.get_metrics` returns the latest value of each.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

from deepseek.hpc.v1 import job_pb2
from deepseek_api._job import Amount, AsyncJob, Job, ResourceUsage
from deepseek_api._specs import job_spec

FRAMEWORK_LABEL = "framework"
"""The label naming a task's framework."""

FRAMEWORK_VARIABLE = "ML_FRAMEWORK"
"""The environment variable naming a task's framework inside the job."""

# The value rules of job labels: the framework name must fit one.
_FRAMEWORK_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


def ml_task_spec(
    framework: str,
    nodes: int,
    command: str,
    *,
    job_name: str | None,
    cpus_per_node: int | None,
    gpus_per_node: int | None,
    memory_gb: int | None,
    gpu_type: str | None,
    timeout: int | None,
    environment: Mapping[str, str] | None,
    labels: Mapping[str, str] | None,
    dependencies: Sequence[str] | None,
) -> job_pb2.JobSpec:
    """The job spec of a task (see the module docstring for what ``framework`` becomes).

    Raises:
        ValueError: if ``framework`` is not 1 to 63 characters of ``[a-z0-9_-]`` (any
            case), or the spec has not the shape of a job spec.
    """
    name = framework.lower()
    if not _FRAMEWORK_NAME.fullmatch(name):
        raise ValueError(
            f"framework must be 1 to 63 characters of letters, digits, '_' and '-', "
            f"starting with a letter or digit, not {framework!r}"
        )
    resources: dict[str, Any] = {"nodes": nodes}
    for key, value in (
        ("cpus_per_node", cpus_per_node),
        ("gpus_per_node", gpus_per_node),
        ("memory_gb", memory_gb),
        ("gpu_type", gpu_type),
    ):
        if value is not None:
            resources[key] = value
    spec: dict[str, Any] = {
        "job_name": job_name or f"{name}-task",
        "resource_spec": resources,
        "command": command,
        "environment": {**(environment or {}), FRAMEWORK_VARIABLE: name},
        "labels": {**(labels or {}), FRAMEWORK_LABEL: name},
        "dependencies": list(dependencies or ()),
    }
    if timeout is not None:
        spec["timeout"] = timeout
    return job_spec(spec)


@dataclass(frozen=True, slots=True)
class TaskMetrics(Mapping[str, float]):
    """What a task reported and what it used; a read-only mapping of its metrics
    (``metrics["loss"]``), with its usage and cost alongside.

    Attributes:
        job_id: The task's job id.
        status: The job's state when the metrics were read, e.g. ``"COMPLETED"``.
        metrics: The latest value of each metric the job reported.
        usage: Resources it consumed (wall and CPU time, peak memory); None if it never
            started.
        cost: What it cost (so far, if it is still running); None if it never started.
        exit_code: The command's exit status; None until it exited.
    """

    job_id: str
    status: str
    metrics: dict[str, float] = field(hash=False)
    usage: ResourceUsage | None
    cost: Amount | None
    exit_code: int | None

    def __getitem__(self, name: str) -> float:
        return self.metrics[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.metrics)

    def __len__(self) -> int:
        return len(self.metrics)

    @classmethod
    def of(cls, job: Job | AsyncJob) -> TaskMetrics:
        """The metrics, usage and cost of a job as last fetched."""
        return cls(
            job_id=job.id,
            status=job.status,
            metrics=job.metrics,
            usage=job.usage,
            cost=job.cost,
            exit_code=job.exit_code,
        )


class MLTask(Job):
    """A machine-learning task (see :meth:`DeepSeekClient.create_ml_task`): a :class:`Job`
    with the platform guide's ``wait_for_completion`` and ``get_metrics``."""

    __slots__ = ()

    @property
    def framework(self) -> str | None:
        """The framework the task was created for, from its label."""
        return self.spec.labels.get(FRAMEWORK_LABEL)

    def wait_for_completion(self, timeout: float | None = None) -> Self:
        """Block until the task is COMPLETED, FAILED or CANCELLED, and return it; the
        same as :meth:`Job.wait` (it watches, without polling). Check ``status`` after:
        a failed task does not raise.

        Raises:
            TimeoutError: if the task is not done when ``timeout`` seconds pass.
        """
        return self.wait(timeout)

    def get_metrics(self) -> TaskMetrics:
        """Fetch the task's current state and return its reported metrics, resource usage
        and cost. While the task runs the values are the latest so far."""
        return TaskMetrics.of(self.refresh())


class AsyncMLTask(AsyncJob):
    """The asyncio twin of :class:`MLTask`: its methods are coroutines."""

    __slots__ = ()

    @property
    def framework(self) -> str | None:
        """The framework the task was created for, from its label."""
        return self.spec.labels.get(FRAMEWORK_LABEL)

    async def wait_for_completion(self, timeout: float | None = None) -> Self:  # noqa: ASYNC109
        """Wait until the task is done (see :meth:`MLTask.wait_for_completion`)."""
        return await self.wait(timeout)

    async def get_metrics(self) -> TaskMetrics:
        """The task's metrics, usage and cost (see :meth:`MLTask.get_metrics`)."""
        return TaskMetrics.of(await self.refresh())
