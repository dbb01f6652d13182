"""Quotas, prices and charges as plain values. Money is integer minor units, never float."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from deepseek_server.executors.base import GpuType, Resources

UNLIMITED = -1


class QuotaKind(enum.Enum):
    """What a quota limits."""

    CONCURRENT_JOBS = "CONCURRENT_JOBS"
    NODES = "NODES"
    GPUS = "GPUS"
    STORAGE_BYTES = "STORAGE_BYTES"
    MONTHLY_BUDGET = "MONTHLY_BUDGET"

    @property
    def subject(self) -> str:
        """The name used in QuotaFailure subjects: ``concurrent_jobs``."""
        return self.value.lower()


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units (fen, cents) of a currency."""

    currency: str
    minor_units: int


@dataclass(frozen=True, slots=True)
class Prices:
    """What one unit of each resource costs per second, in minor units."""

    currency: str
    core_second: int
    memory_gb_second: int
    gpu_second: Mapping[GpuType, int] = field(default_factory=dict)

    def per_second(self, resources: Resources) -> int:
        """The cost of one second of an allocation (all its nodes)."""
        gpu_price = self.gpu_second.get(resources.gpu_type, 0) if resources.gpu_type else 0
        per_node = (
            resources.cpus_per_node * self.core_second
            + resources.memory_gb * self.memory_gb_second
            + resources.gpus_per_node * gpu_price
        )
        return resources.nodes * per_node


@dataclass(frozen=True, slots=True)
class Charge:
    """What a job that ran is billed: allocated resources x billed seconds x price."""

    job_id: str
    owner: str
    job_name: str
    start_time: datetime
    end_time: datetime
    billed_seconds: int
    core_seconds: int
    gpu_type: GpuType | None
    gpu_seconds: int
    memory_gb_seconds: int
    cost: Money


@dataclass(frozen=True, slots=True)
class QuotaStanding:
    """One quota of a user: its limit (-1 unlimited), current usage, and whether overridden."""

    kind: QuotaKind
    limit: int
    usage: int
    overridden: bool
    unit: str


class Direction(enum.Enum):
    """Which way usage crossed a threshold."""

    UP = "UP"
    DOWN = "DOWN"


@dataclass(frozen=True, slots=True)
class QuotaAlert:
    """Usage of a quota crossed a threshold (or, for a snapshot, stands above one)."""

    user_id: str
    kind: QuotaKind
    threshold_percent: int
    direction: Direction
    usage: int
    limit: int
    time: datetime
    snapshot: bool = False


@dataclass(frozen=True, slots=True)
class UsagePage:
    """Charges of jobs that ended in a window, one page of them, and the window's total."""

    charges: list[Charge]
    total: Money
    next_page_token: str
    start_time: datetime
    end_time: datetime
