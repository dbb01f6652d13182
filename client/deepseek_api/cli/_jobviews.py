"""How a job looks: a table row, a detail view, a JSON object, a line per state change."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format

import deepseek_api as ds
from deepseek_api.cli import _format

JOB_HEADERS = ("ID", "NAME", "STATUS", "REASON", "NODES", "CREATED", "RUNTIME", "EXIT")


def job_row(job: ds.Job, now: datetime) -> list[str]:
    """One row under :data:`JOB_HEADERS`."""
    return [
        job.id,
        job.name,
        job.status,
        _format.optional(job.state_reason),
        str(job.spec.resource_spec.nodes),
        _format.age(job.create_time, now) + (" ago" if job.create_time else ""),
        _runtime(job, now),
        _format.optional(job.exit_code),
    ]


def jobs_table(jobs: Iterable[ds.Job], now: datetime | None = None) -> str:
    """A table of jobs."""
    moment = now or datetime.now(UTC)
    return _format.table(JOB_HEADERS, [job_row(job, moment) for job in jobs])


def job_details(job: ds.Job, now: datetime | None = None) -> str:
    """Everything about one job, as aligned ``Key: value`` lines."""
    moment = now or datetime.now(UTC)
    resources = job.spec.resource_spec
    gpus = f"{resources.gpus_per_node} x {_gpu_type(job)}" if resources.gpus_per_node else "0"
    pairs = [
        ("ID", job.id),
        ("Name", job.name),
        ("Status", job.status),
        ("Reason", _format.optional(job.state_reason)),
        ("Message", _format.optional(job.state_message)),
        ("Exit code", _format.optional(job.exit_code)),
        ("Command", job.spec.command),
        ("Nodes", str(resources.nodes)),
        ("CPUs per node", str(resources.cpus_per_node)),
        ("GPUs per node", gpus),
        ("Memory", f"{resources.memory_gb} GB" if resources.memory_gb else _format.EMPTY),
        ("Timeout", _format.duration(job.spec.timeout) if job.spec.timeout else _format.EMPTY),
        ("Dependencies", ", ".join(job.spec.dependencies) or _format.EMPTY),
        ("Environment", _pairs(job.spec.environment)),
        ("Labels", _pairs(job.spec.labels)),
        ("Owner", _format.optional(job.owner)),
        ("Executor", _executor(job)),
        ("Created", _format.timestamp(job.create_time)),
        ("Submitted", _format.timestamp(job.submit_time)),
        ("Started", _format.timestamp(job.start_time)),
        ("Ended", _format.timestamp(job.end_time)),
        ("Runtime", _runtime(job, moment)),
    ]
    usage = job.usage
    if usage is not None:
        pairs.append(("CPU time", _format.duration(usage.cpu_time)))
        if usage.peak_memory_bytes is not None:
            pairs.append(("Peak memory", _format.size(usage.peak_memory_bytes)))
    cost = job.cost
    if cost is not None:
        pairs.append(("Cost", _format.money(cost.minor_units, cost.currency_code)))
    pairs += [(f"Metric {name}", f"{value:g}") for name, value in sorted(job.metrics.items())]
    return _format.fields(pairs)


def job_dict(job: ds.Job) -> dict[str, Any]:
    """A job as JSON: the spec in the platform guide's shape, times in RFC 3339 (UTC)."""
    usage = job.usage
    cost = job.cost
    return {
        "id": job.id,
        "job_name": job.name,
        "status": job.status,
        "state_reason": job.state_reason,
        "state_message": job.state_message or None,
        "exit_code": job.exit_code,
        "owner": job.owner or None,
        "spec": spec_dict(job),
        "executor": job.executor or None,
        "executor_job_id": job.executor_job_id,
        "create_time": iso(job.create_time),
        "submit_time": iso(job.submit_time),
        "start_time": iso(job.start_time),
        "end_time": iso(job.end_time),
        "update_time": iso(job.update_time),
        "usage": None
        if usage is None
        else {
            "wall_time_seconds": usage.wall_time.total_seconds(),
            "cpu_time_seconds": usage.cpu_time.total_seconds(),
            "peak_memory_bytes": usage.peak_memory_bytes,
        },
        "cost": None
        if cost is None
        else {"currency_code": cost.currency_code, "minor_units": cost.minor_units},
        "metrics": job.metrics,
    }


def spec_dict(job: ds.Job) -> dict[str, Any]:
    """The job's spec in the guide's JSON shape (``gpu_type`` as ``"A100"``)."""
    spec: dict[str, Any] = json_format.MessageToDict(job.spec, preserving_proto_field_name=True)
    resources = spec.get("resource_spec", {})
    if "gpu_type" in resources:
        resources["gpu_type"] = _gpu_type(job)
    return spec


def event_line(event: ds.JobEvent[ds.Job]) -> str | None:
    """A line for a watch event; None for the end of the snapshot. For example
    ``12:03:09  job-abc  md_001  RUNNING -> FAILED  NON_ZERO_EXIT, exit code 3``."""
    job = event.job
    if job is None:
        return None
    when = event.time.astimezone().strftime("%H:%M:%S") if event.time else "--:--:--"
    change = f"{event.previous_state} -> {job.status}" if event.previous_state else job.status
    return f"{when}  {job.id}  {job.name}  {change}{outcome_suffix(job)}".rstrip()


def event_dict(event: ds.JobEvent[ds.Job]) -> dict[str, Any]:
    """A watch event as a JSON Lines object."""
    return {
        "sequence": event.sequence,
        "type": event.type,
        "previous_state": event.previous_state,
        "time": iso(event.time),
        "job": job_dict(event.job) if event.job is not None else None,
    }


def outcome_suffix(job: ds.Job) -> str:
    """Why a job is where it is: ``"  NON_ZERO_EXIT, exit code 3"``; empty if nothing to say."""
    parts = [part for part in (job.state_reason, _exit_text(job)) if part]
    return "  " + ", ".join(parts) if parts else ""


def _exit_text(job: ds.Job) -> str | None:
    return None if job.exit_code is None else f"exit code {job.exit_code}"


def _runtime(job: ds.Job, now: datetime) -> str:
    if job.start_time is None:
        return _format.EMPTY
    return _format.duration((job.end_time or now) - job.start_time)


def _gpu_type(job: ds.Job) -> str:
    name = json_format.MessageToDict(job.spec.resource_spec, preserving_proto_field_name=True).get(
        "gpu_type", "any"
    )
    return str(name).removeprefix("GPU_TYPE_")


def _executor(job: ds.Job) -> str:
    if not job.executor:
        return _format.EMPTY
    return f"{job.executor} ({job.executor_job_id})" if job.executor_job_id else job.executor


def _pairs(mapping: Any) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(mapping.items())) or _format.EMPTY


def iso(moment: datetime | None) -> str | None:
    """A moment in RFC 3339, UTC with ``Z``; None for None."""
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
