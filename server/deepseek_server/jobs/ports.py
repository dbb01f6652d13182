"""What the job domain needs from the data domain, as a protocol the data service satisfies."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class DatasetGate(Protocol):
    """Datasets and uploads, as jobs see them."""

    async def dataset_states(self, owner: str, names: list[str]) -> dict[str, bool]:
        """Of the owner's datasets among ``names``: name -> sealed. Missing ones are absent."""
        ...

    def dataset_dir(self, owner: str, name: str) -> Path:
        """Where a dataset's files are."""
        ...

    async def job_submitted(self, owner: str, job_id: str) -> None:
        """The job left CREATED: uploads into it are cancelled."""
        ...
