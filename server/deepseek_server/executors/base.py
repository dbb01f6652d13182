"""What the job domain needs from a place that runs jobs: the Executor protocol.

An executor launches a job, reports how it ended, cancels it, and says what it could ever run.
It keeps no state the gateway cannot rebuild: everything needed to find a launched job again after
a gateway restart is in the ``executor_job_id`` it returns (persisted with the job) and in the
job's directory.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol


class GpuType(enum.Enum):
    """GPU models the platform offers."""

    A100 = "A100"
    H100 = "H100"


@dataclass(frozen=True, slots=True)
class Resources:
    """What a job asks for, per node."""

    nodes: int = 1
    cpus_per_node: int = 1
    gpus_per_node: int = 0
    gpu_type: GpuType | None = None
    memory_gb: int = 0
    """Memory per node in GiB; 0 means the executor's default share."""


@dataclass(frozen=True, slots=True)
class Partition:
    """One homogeneous pool of nodes and the largest request it can satisfy."""

    name: str
    max_nodes: int
    cpus_per_node: int
    memory_gb_per_node: int
    gpus_per_node: int
    gpu_types: tuple[GpuType, ...]
    max_timeout_seconds: int


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What an executor can ever run; a spec beyond every partition is refused at creation."""

    executor: str
    partitions: tuple[Partition, ...]
    queues_itself: bool
    """True when the executor has its own queue (Slurm): the gateway then submits every ready job
    at once. False (local processes): the gateway starts a job only when it fits the free
    capacity of the partition, and keeps the rest QUEUED."""
    enforces_timeouts: bool = True
    """True when the executor ends a job at its timeout to the second by itself (the local
    supervisor does). False (Slurm limits are whole minutes): the gateway ends it on time."""


@dataclass(frozen=True, slots=True)
class LaunchRequest:
    """Everything an executor needs to start one job."""

    job_id: str
    command: str
    """Run by ``/bin/sh -c`` in ``workdir``."""
    environment: Mapping[str, str]
    """The complete environment of the job (the gateway has already added its own variables)."""
    workdir: Path
    """The job's working directory; it exists and holds the job's inputs."""
    stdout_path: Path
    stderr_path: Path
    control_dir: Path
    """A directory private to the executor for this job (status files, pid files)."""
    timeout_seconds: int
    resources: Resources = field(default_factory=Resources)
    after: tuple[str, ...] = ()
    """``executor_job_id`` of jobs that must complete successfully before this one starts; only
    for an executor that queues itself (it holds the job; if one of them fails, the job ends
    with ``DEPENDENCY_FAILED``)."""


class OutcomeKind(enum.Enum):
    """How a launched job ended."""

    EXITED = "exited"
    """The command ran to its end; ``exit_code`` says how (0 is success)."""
    SIGNALLED = "signalled"
    """The command was killed by a signal it did not expect (``signal`` says which)."""
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    OUT_OF_MEMORY = "out_of_memory"
    NODE_FAILURE = "node_failure"
    PREEMPTED = "preempted"
    LAUNCH_FAILED = "launch_failed"
    """The command could not be started (not found, not executable, bad working directory)."""
    LOST = "lost"
    """The executor has no trace of the job any more; its true outcome is unknown."""
    DEPENDENCY_FAILED = "dependency_failed"
    """The job never started: a job in its ``after`` did not complete successfully."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a job ended, with the resources it used."""

    kind: OutcomeKind
    message: str = ""
    exit_code: int | None = None
    signal: int | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    wall_time_seconds: float = 0.0
    cpu_time_seconds: float = 0.0
    peak_memory_bytes: int = 0


class Executor(Protocol):
    """Runs jobs somewhere. Implementations: local processes, Slurm."""

    @property
    def name(self) -> str:
        """Short stable name stored with each job (``local``, ``slurm``)."""
        ...

    async def open(self, installation_id: str) -> None:
        """Get ready before any other call (except :attr:`name`): learn what the executor can
        run and start watching. ``installation_id`` names this gateway's installation: jobs it
        launches are named with it, so that they can be found again (:meth:`locate`).

        Raises:
            ExecutorUnavailable: the place that runs jobs cannot be reached.
        """
        ...

    def capabilities(self) -> Capabilities:
        """What this executor can ever run."""
        ...

    async def launch(self, request: LaunchRequest) -> str:
        """Start the job and return its ``executor_job_id``.

        Launch failures of the job itself (command not found) are not raised: they surface as an
        ``Outcome`` of kind ``LAUNCH_FAILED`` from :meth:`wait`. Raises only when the executor
        itself cannot accept work (an :class:`ExecutorUnavailable`).
        """
        ...

    async def wait_started(self, request: LaunchRequest, executor_job_id: str) -> datetime | None:
        """Wait until a launched job has started and return when it did (None if it ended
        without starting). Immediate for an executor that starts jobs at launch."""
        ...

    async def locate(self, requests: Sequence[LaunchRequest]) -> dict[str, str]:
        """Find jobs launched but never recorded (the gateway stopped between :meth:`launch`
        and storing its result): ``job_id`` -> ``executor_job_id`` of those found."""
        ...

    async def wait(self, request: LaunchRequest, executor_job_id: str) -> Outcome:
        """Wait until the job ends and return how. Works for jobs launched before a restart."""
        ...

    async def cancel(self, request: LaunchRequest, executor_job_id: str) -> None:
        """Ask the job to stop (SIGTERM, then SIGKILL after a grace period); idempotent.

        Returns once the request is delivered; :meth:`wait` reports the ``CANCELLED`` outcome.
        """
        ...

    async def close(self) -> None:
        """Stop watching jobs; running jobs keep running (they are adopted after a restart)."""
        ...


class ExecutorUnavailable(RuntimeError):
    """The executor cannot accept work now (a scheduler daemon is down)."""
