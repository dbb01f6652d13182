"""Places that run jobs: the :class:`Executor` protocol, its types, and the local executor."""

from deepseek_server.executors.base import (
    Capabilities,
    Executor,
    ExecutorUnavailable,
    GpuType,
    LaunchRequest,
    Outcome,
    OutcomeKind,
    Partition,
    Resources,
)
from deepseek_server.executors.local import LocalExecutor

__all__ = [
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
