"""Helpers shared by test modules."""

from __future__ import annotations

from pathlib import Path

CPUS = 2
"""CPUs the job tests' gateway offers: two 1-CPU jobs run at once, a third waits."""


def spec(command: str, **fields: object) -> dict[str, object]:
    """A job spec in the platform guide's JSON shape, 1 node and 1 CPU unless ``cpus`` says."""
    return {
        "job_name": fields.pop("job_name", "test"),
        "resource_spec": {"nodes": 1, "cpus_per_node": fields.pop("cpus", 1)},
        "command": command,
        **fields,
    }


def alive(pid: int) -> bool:
    """Whether a process with this pid exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def pids_in(path: Path) -> list[int]:
    """Process ids a job wrote to ``path``, one per line."""
    return [int(line) for line in path.read_text().split()]
