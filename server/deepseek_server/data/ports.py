"""What the data domain needs from the job domain, as a protocol the job service satisfies."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class JobView:
    """The facts about a job that decide what may happen to its files."""

    id: str
    terminal: bool
    datasets: tuple[str, ...] = ()


class JobGate(Protocol):
    """The job domain, as the data domain uses it. Someone else's job is NOT_FOUND."""

    async def job_view(self, owner: str, job_id: str) -> JobView:
        """The owner's job; NOT_FOUND if there is none."""
        ...

    def accepting_inputs(self, owner: str, job_id: str) -> AbstractAsyncContextManager[None]:
        """Hold the job in CREATED for the block (FAILED_PRECONDITION if it is not)."""
        ...

    async def dataset_sealed(self, owner: str, name: str) -> None:
        """Jobs waiting for this dataset may run now."""
        ...

    async def jobs_needing_dataset(self, owner: str, name: str) -> list[str]:
        """Ids of the owner's jobs that are not terminal and depend on the dataset."""
        ...

    def input_dir(self, job_id: str) -> Path:
        """Where the job's finished input files are."""
        ...

    def output_dir(self, job_id: str) -> Path:
        """The job's working directory, where it writes its outputs."""
        ...
