"""Jobs to and from database rows: the spec and the changing status as compact JSON.

orjson writes what ``json.dumps(separators=(",", ":"), ensure_ascii=False)`` wrote for the same
values, about ten times faster (two encodings per job created); it refuses NaN and infinities,
which no job field holds (metrics are filtered when read).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from deepseek_server.accounts.model import Money
from deepseek_server.clock import from_micros, micros
from deepseek_server.executors.base import GpuType
from deepseek_server.jobs.model import Job, JobSpec, JobState, StateReason, Usage


def encode_spec(spec: JobSpec) -> str:
    """The spec as stored."""
    gpu_type = spec.gpu_type.value if isinstance(spec.gpu_type, GpuType) else None
    return _dumps(
        {
            "job_name": spec.job_name,
            "command": spec.command,
            "nodes": spec.nodes,
            "cpus_per_node": spec.cpus_per_node,
            "gpus_per_node": spec.gpus_per_node,
            "gpu_type": gpu_type,
            "memory_gb": spec.memory_gb,
            "timeout_seconds": spec.timeout_seconds,
            "dependencies": list(spec.dependencies),
            "environment": dict(spec.environment),
            "labels": dict(spec.labels),
        }
    )


def decode_spec(text: str) -> JobSpec:
    """The inverse of :func:`encode_spec`."""
    data = orjson.loads(text)
    gpu_type = data.pop("gpu_type")
    return JobSpec(
        **{**data, "dependencies": tuple(data["dependencies"])},
        gpu_type=GpuType(gpu_type) if gpu_type else None,
    )


def encode_status(job: Job) -> str:
    """The fields of a job that change over its life, as stored with the job and each event."""
    usage = job.usage
    return _dumps(
        {
            "state": job.state.value,
            "reason": job.reason.value,
            "message": job.message,
            "exit_code": job.exit_code,
            "update_time": micros(job.update_time),
            "submit_time": _optional_micros(job.submit_time),
            "start_time": _optional_micros(job.start_time),
            "end_time": _optional_micros(job.end_time),
            "usage": None
            if usage is None
            else [usage.wall_time_seconds, usage.cpu_time_seconds, usage.peak_memory_bytes],
            "cost": None if job.cost is None else [job.cost.currency, job.cost.minor_units],
            "metrics": dict(job.metrics),
            "executor": job.executor,
            "executor_job_id": job.executor_job_id,
            "cancel_requested": job.cancel_requested,
            "state_sequence": job.state_sequence,
        }
    )


def decode_job(row: Mapping[str, Any], status_text: str | None = None) -> Job:
    """A job from its row; ``status_text`` replaces the row's status (for an event)."""
    status = orjson.loads(status_text if status_text is not None else row["status"])
    usage = status["usage"]
    cost = status.get("cost")
    return Job(
        id=row["id"],
        owner=row["owner"],
        spec=decode_spec(row["spec"]),
        create_time=from_micros(row["create_time"]),
        request_id=row["request_id"] or "",
        state=JobState(status["state"]),
        reason=StateReason(status["reason"]),
        message=status["message"],
        exit_code=status["exit_code"],
        update_time=from_micros(status["update_time"]),
        submit_time=_optional_datetime(status["submit_time"]),
        start_time=_optional_datetime(status["start_time"]),
        end_time=_optional_datetime(status["end_time"]),
        usage=None if usage is None else Usage(usage[0], usage[1], usage[2]),
        cost=None if cost is None else Money(cost[0], cost[1]),
        metrics=status["metrics"],
        executor=status["executor"],
        executor_job_id=status["executor_job_id"],
        cancel_requested=status["cancel_requested"],
        state_sequence=status["state_sequence"],
    )


def _optional_datetime(value: int | None) -> datetime | None:
    return None if value is None else from_micros(value)


def _optional_micros(moment: datetime | None) -> int | None:
    return None if moment is None else micros(moment)


def _dumps(data: object) -> str:
    return orjson.dumps(data).decode()
