"""Reading what the Slurm commands print, and what a Slurm job's end means to the gateway.

Pure functions over text: no processes, so that every format can be tested without Slurm.
The commands are run with ``TZ=UTC``, so the times they print are UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from deepseek_server.executors.base import GpuType, Outcome, OutcomeKind, Partition

SQUEUE_FORMAT = "%i|%T|%r|%S|%e|%N|%j"
"""id, state, reason, start, end, nodes, name: the name last, as the only free-text field."""
SACCT_FIELDS = "JobID,State,ExitCode,Start,End,NodeList,JobName"
SINFO_FORMAT = "%P|%a|%D|%c|%m|%G|%l|%s"
"""partition (``*`` marks the default), availability, nodes, CPUs, memory MB, gres, time limit,
job size in nodes."""

RUNNING_STATES = frozenset({"RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING"})
"""States of a job that has started and has not ended (COMPLETING: ended, exit code not final)."""
TERMINAL_STATES = frozenset(
    {
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "TIMEOUT",
        "OUT_OF_MEMORY",
        "NODE_FAIL",
        "BOOT_FAIL",
        "PREEMPTED",
        "DEADLINE",
        "SPECIAL_EXIT",
        "REVOKED",
    }
)
# How /bin/sh reports a command it could not run (the local supervisor reads them the same way).
_SHELL_FAILURES = {127: "command not found", 126: "permission denied"}
_NO_TIME = frozenset({"", "N/A", "Unknown", "None", "NONE"})
_NO_NODES = frozenset({"", "(null)", "None assigned", "None"})
_UNLIMITED = frozenset({"infinite", "UNLIMITED", "INFINITE", "Unlimited"})
_GRES_ITEM = re.compile(r"^(?P<name>[^:(]+)(?::(?P<type>[^:(]+))?:(?P<count>\d+)")


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One job as squeue or sacct report it."""

    job_id: str
    state: str
    name: str
    start: datetime | None = None
    end: datetime | None = None
    nodes: str = ""
    reason: str = ""
    exit_code: int | None = None
    """None when the source has no exit code (squeue)."""
    signal: int = 0

    @property
    def ran(self) -> bool:
        """Whether the job was ever given nodes (a job cancelled while pending was not)."""
        return self.nodes not in _NO_NODES

    @property
    def has_ended(self) -> bool:
        """Whether the job is in a final state."""
        return self.state in TERMINAL_STATES

    @property
    def has_started(self) -> bool:
        """Whether the job runs now (or is finishing)."""
        return self.state in RUNNING_STATES


def parse_time(text: str) -> datetime | None:
    """A Slurm timestamp (``2024-05-01T12:00:00``, printed in UTC) or None for N/A and Unknown."""
    text = text.strip()
    if text in _NO_TIME:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        return None


def parse_squeue(output: str) -> list[JobRecord]:
    """Rows of ``squeue -h -o SQUEUE_FORMAT``; malformed lines are skipped."""
    records = []
    for line in output.splitlines():
        fields = line.split("|", 6)
        if len(fields) != 7 or not fields[0].strip():
            continue
        job_id, state, reason, start, end, nodes, name = fields
        records.append(
            JobRecord(
                job_id=job_id.strip(),
                state=_base_state(state),
                name=name,
                start=parse_time(start),
                end=parse_time(end),
                nodes=nodes.strip(),
                reason=reason.strip(),
            )
        )
    return records


def parse_sacct(output: str) -> list[JobRecord]:
    """Rows of ``sacct -c -P -n -o SACCT_FIELDS`` (the job completion records)."""
    records = []
    for line in output.splitlines():
        fields = line.split("|", 6)
        if len(fields) != 7 or not fields[0].strip():
            continue
        job_id, state, exit_code, start, end, nodes, name = fields
        code, signal = parse_exit_code(exit_code)
        records.append(
            JobRecord(
                job_id=job_id.strip(),
                state=_base_state(state),
                name=name,
                start=parse_time(start),
                end=parse_time(end),
                nodes=nodes.strip(),
                exit_code=code,
                signal=signal,
            )
        )
    return records


def parse_exit_code(text: str) -> tuple[int | None, int]:
    """Slurm's ``exit:signal`` (``3:0``, ``0:15``) as (exit code or None, signal)."""
    code, _, signal = text.strip().partition(":")
    try:
        return int(code), int(signal or 0)
    except ValueError:
        return None, 0


def parse_duration(text: str) -> int | None:
    """A Slurm time limit in seconds; None for an unlimited one.

    Accepted: ``minutes``, ``minutes:seconds``, ``hours:minutes:seconds``, ``days-hours``,
    ``days-hours:minutes``, ``days-hours:minutes:seconds``.
    """
    text = text.strip()
    if text in _UNLIMITED or not text:
        return None
    days = 0
    if "-" in text:
        head, _, text = text.partition("-")
        days = int(head)
        parts = [int(p) for p in text.split(":")]
        while len(parts) < 3:
            parts.append(0)
        hours, minutes, seconds = parts
    else:
        parts = [int(p) for p in text.split(":")]
        if len(parts) == 1:
            hours, minutes, seconds = 0, parts[0], 0
        elif len(parts) == 2:
            hours, (minutes, seconds) = 0, parts
        else:
            hours, minutes, seconds = parts
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def parse_gpus(gres: str) -> dict[GpuType, int]:
    """GPUs per node by type from a Gres string (``gpu:a100:8(S:0-1),gpu:h100:4``).

    GPUs of types the platform does not offer, and untyped ones, are left out: a job asks for a
    type, and such GPUs could never be the one it asks for.
    """
    offered: dict[GpuType, int] = {}
    for item in re.split(r",(?![^()]*\))", gres.strip()):
        match = _GRES_ITEM.match(item.strip())
        if match is None or match["name"] != "gpu" or match["type"] is None:
            continue
        try:
            kind = GpuType(match["type"].upper())
        except ValueError:
            continue
        offered[kind] = max(offered.get(kind, 0), int(match["count"]))
    return offered


@dataclass
class _PartitionLines:
    nodes: int = 0
    cpus: int = 0
    memory_mb: int = 0
    gpus: dict[GpuType, int] = field(default_factory=dict)
    limit_seconds: int | None = None
    job_nodes: int = 0


def parse_sinfo(output: str, max_timeout_seconds: int) -> tuple[list[Partition], str]:
    """Partitions from ``sinfo -h -o SINFO_FORMAT`` lines, and the default partition's name.

    A partition with nodes of several sizes has a line per size: its figures are those of its
    largest nodes, and its node count the sum. An unlimited time limit (or one beyond it)
    becomes ``max_timeout_seconds``.
    """
    merged: dict[str, _PartitionLines] = {}
    default = ""
    for line in output.splitlines():
        fields = [f.strip() for f in line.split("|")]
        if len(fields) != 8:
            continue
        name, _available, nodes, cpus, memory, gres, limit, size = fields
        if name.endswith("*"):
            name = name[:-1]
            default = default or name
        entry = merged.setdefault(name, _PartitionLines())
        entry.nodes += _number(nodes)
        entry.cpus = max(entry.cpus, _number(cpus))
        entry.memory_mb = max(entry.memory_mb, _number(memory))
        for kind, count in parse_gpus(gres).items():
            entry.gpus[kind] = max(entry.gpus.get(kind, 0), count)
        entry.limit_seconds = parse_duration(limit)
        entry.job_nodes = _max_job_nodes(size)
    partitions = []
    for name, entry in merged.items():
        seconds = entry.limit_seconds or max_timeout_seconds
        partitions.append(
            Partition(
                name=name,
                max_nodes=min(entry.nodes, entry.job_nodes) if entry.job_nodes else entry.nodes,
                cpus_per_node=entry.cpus,
                memory_gb_per_node=entry.memory_mb // 1024,
                gpus_per_node=max(entry.gpus.values(), default=0),
                gpu_types=tuple(sorted(entry.gpus, key=lambda kind: kind.value)),
                max_timeout_seconds=min(seconds, max_timeout_seconds),
            )
        )
    return partitions, default


def outcome_of(record: JobRecord, reason: str = "") -> Outcome:
    """How a job that Slurm reports ended (``record.has_ended``) ended, for the gateway.

    ``reason`` is Slurm's reason from squeue, when it was seen there (sacct has none): it tells a
    job cancelled because a dependency failed from one cancelled by someone.
    """
    state = record.state
    reason = reason or record.reason
    wall = (record.end - record.start).total_seconds() if record.end and record.start else 0.0
    ran = record.ran

    def outcome(
        kind: OutcomeKind, message: str, exit_code: int | None = None, signal: int | None = None
    ) -> Outcome:
        return Outcome(
            kind,
            message=message,
            exit_code=exit_code,
            signal=signal,
            start_time=record.start if ran else None,
            end_time=record.end,
            wall_time_seconds=max(0.0, wall) if ran else 0.0,
        )

    code, signal = record.exit_code, record.signal
    if state == "COMPLETED":
        return outcome(OutcomeKind.EXITED, "", exit_code=code or 0)
    if state in ("FAILED", "SPECIAL_EXIT"):
        if code in _SHELL_FAILURES:
            return outcome(OutcomeKind.LAUNCH_FAILED, _SHELL_FAILURES[code], exit_code=code)
        if not code and signal:
            return outcome(OutcomeKind.SIGNALLED, f"killed by signal {signal}", signal=signal)
        return outcome(OutcomeKind.EXITED, "", exit_code=code)
    if state == "CANCELLED":
        if reason == "DependencyNeverSatisfied":
            return outcome(
                OutcomeKind.DEPENDENCY_FAILED, "Slurm: a dependency did not complete successfully"
            )
        return outcome(OutcomeKind.CANCELLED, "cancelled in Slurm")
    simple = {
        "TIMEOUT": (OutcomeKind.TIMED_OUT, "Slurm: reached its time limit"),
        "DEADLINE": (OutcomeKind.TIMED_OUT, "Slurm: reached its deadline"),
        "OUT_OF_MEMORY": (OutcomeKind.OUT_OF_MEMORY, "Slurm: out of memory"),
        "NODE_FAIL": (OutcomeKind.NODE_FAILURE, "Slurm: a node of the job failed"),
        "BOOT_FAIL": (OutcomeKind.NODE_FAILURE, "Slurm: a node of the job failed to boot"),
        "PREEMPTED": (OutcomeKind.PREEMPTED, "Slurm: preempted"),
    }
    if state in simple:
        kind, message = simple[state]
        return outcome(kind, message, exit_code=code or None)
    return outcome(OutcomeKind.LOST, f"Slurm: ended in state {state} ({reason or 'no reason'})")


def _base_state(text: str) -> str:
    # sacct prints "CANCELLED by 0"; squeue and sacct may add flags after a space or '+'.
    return text.strip().split(" ", 1)[0].rstrip("+")


def _number(text: str) -> int:
    match = re.match(r"\d+", text)
    return int(match.group()) if match else 0


def _max_job_nodes(size: str) -> int:
    """The upper bound of sinfo's job size (``1-infinite``, ``1-16``); 0 for no bound."""
    upper = size.rpartition("-")[2]
    return 0 if upper in _UNLIMITED or not upper.isdigit() else int(upper)
