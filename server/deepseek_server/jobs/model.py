"""Jobs as the domain sees them: plain values, no gRPC, no SQL."""

from __future__ import annotations

import enum
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from deepseek_server.accounts.model import Money
from deepseek_server.executors.base import GpuType, Resources
from deepseek_server.randomness import random_bytes

JOB_ID_PREFIX = "job-"
DEFAULT_TIMEOUT_SECONDS = 7200


class JobState(enum.Enum):
    """Lifecycle: CREATED -> QUEUED -> RUNNING -> COMPLETED | FAILED | CANCELLED."""

    CREATED = "CREATED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        """True for the states a job never leaves."""
        return self in _TERMINAL

    @property
    def is_active(self) -> bool:
        """True while the job holds or waits for resources (QUEUED, RUNNING)."""
        return self in (JobState.QUEUED, JobState.RUNNING)


_TERMINAL = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED})


class StateReason(enum.Enum):
    """Why a job is in its state; NONE where no reason applies."""

    NONE = "NONE"
    WAITING_FOR_DEPENDENCIES = "WAITING_FOR_DEPENDENCIES"
    WAITING_FOR_DATASET = "WAITING_FOR_DATASET"
    WAITING_FOR_CAPACITY = "WAITING_FOR_CAPACITY"
    WAITING_FOR_SCHEDULER = "WAITING_FOR_SCHEDULER"
    NON_ZERO_EXIT = "NON_ZERO_EXIT"
    TIMEOUT = "TIMEOUT"
    OUT_OF_MEMORY = "OUT_OF_MEMORY"
    NODE_FAILURE = "NODE_FAILURE"
    DEPENDENCY_FAILED = "DEPENDENCY_FAILED"
    LOST = "LOST"
    LAUNCH_FAILED = "LAUNCH_FAILED"
    PREEMPTED = "PREEMPTED"
    CANCELLED_BY_USER = "CANCELLED_BY_USER"
    CANCELLED_BY_ADMIN = "CANCELLED_BY_ADMIN"


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What to run. Built by the transport from the request, then validated and normalised.

    ``gpu_type`` is the raw name ("" when unspecified) until validation turns it into a
    :class:`GpuType`; everything else already has its final type.
    """

    job_name: str
    command: str
    nodes: int = 1
    cpus_per_node: int = 0
    gpus_per_node: int = 0
    gpu_type: GpuType | str | None = None
    memory_gb: int = 0
    timeout_seconds: int = 0
    dependencies: tuple[str, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def resources(self) -> Resources:
        """The per-node resources this spec asks for (after normalisation)."""
        return Resources(
            nodes=self.nodes,
            cpus_per_node=self.cpus_per_node,
            gpus_per_node=self.gpus_per_node,
            gpu_type=self.gpu_type if isinstance(self.gpu_type, GpuType) else None,
            memory_gb=self.memory_gb,
        )

    @property
    def job_dependencies(self) -> tuple[str, ...]:
        """Dependencies that name jobs (the rest name datasets)."""
        return tuple(d for d in self.dependencies if d.startswith(JOB_ID_PREFIX))

    @property
    def dataset_dependencies(self) -> tuple[str, ...]:
        """Dependencies that name datasets."""
        return tuple(d for d in self.dependencies if not d.startswith(JOB_ID_PREFIX))


@dataclass(frozen=True, slots=True)
class Usage:
    """Measured resource usage of a job that has run."""

    wall_time_seconds: float = 0.0
    cpu_time_seconds: float = 0.0
    peak_memory_bytes: int = 0


@dataclass(frozen=True, slots=True)
class Job:
    """A job and everything known about it."""

    id: str
    owner: str
    spec: JobSpec
    state: JobState
    create_time: datetime
    update_time: datetime
    reason: StateReason = StateReason.NONE
    message: str = ""
    exit_code: int | None = None
    request_id: str = ""
    submit_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    usage: Usage | None = None
    cost: Money | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    executor: str = ""
    executor_job_id: str = ""
    cancel_requested: bool = False
    state_sequence: int = 0


@dataclass(frozen=True, slots=True)
class JobEvent:
    """One change of a job's state, numbered gateway-wide."""

    sequence: int
    job: Job
    previous_state: JobState | None
    time: datetime


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing and the token of the next one ("" when it was the last)."""

    jobs: list[Job]
    next_page_token: str


@dataclass(frozen=True, slots=True)
class ListFilter:
    """Conditions a listed job must all meet."""

    states: frozenset[JobState] = frozenset()
    name_prefix: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    created_after: datetime | None = None
    created_before: datetime | None = None


_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
# Two base-32 digits per 10 bits: 13 lookups instead of 26 for the id's 130 bits.
_DIGIT_PAIRS = tuple(high + low for high in _CROCKFORD for low in _CROCKFORD)
_PAIR_SHIFTS = tuple(range(120, -1, -10))


def new_job_id() -> str:
    """A unique, time-ordered id: ``job-`` + 10 characters of milliseconds + 16 random."""
    millis = time.time_ns() // 1_000_000
    number = (millis << 80) | int.from_bytes(random_bytes(10), "big")
    return JOB_ID_PREFIX + "".join([_DIGIT_PAIRS[(number >> s) & 1023] for s in _PAIR_SHIFTS])
