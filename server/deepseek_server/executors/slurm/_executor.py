"""The Slurm executor: submitted with sbatch, followed by one poller, cancelled with scancel."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from deepseek_server.executors.base import (
    Capabilities,
    ExecutorUnavailable,
    LaunchRequest,
    Outcome,
)
from deepseek_server.executors.slurm._commands import SlurmCommands
from deepseek_server.executors.slurm._parsing import parse_sinfo
from deepseek_server.executors.slurm._poller import StatusPoller
from deepseek_server.executors.slurm._script import (
    SubmitOptions,
    batch_script,
    job_name,
    sbatch_arguments,
)

__all__ = ["SlurmExecutor"]


class SlurmExecutor:
    """Runs jobs on a Slurm cluster through its commands; implements :class:`~..base.Executor`.

    Args:
        commands: the Slurm commands (where they are, which cluster).
        options: partition, account and QoS of every job; the partition is also the one whose
            nodes :meth:`capabilities` describes (empty: the cluster's default partition).
        poll_interval_seconds: time between two status polls.
        submit_concurrency: how many sbatch processes may run at once.
        max_timeout_seconds: the longest timeout offered when the partition has no time limit.

    Jobs are named ``dsg-<installation>-<job id>``, so that a job submitted just before a crash
    is found again (:meth:`locate`). Slurm holds jobs with dependencies on other Slurm jobs
    (``afterok``) and cancels them if a dependency fails; it starts each job when it fits. Time
    limits are whole minutes (rounded up): the gateway ends a job at its exact timeout.
    """

    def __init__(
        self,
        commands: SlurmCommands,
        options: SubmitOptions | None = None,
        *,
        poll_interval_seconds: float = 1.0,
        submit_concurrency: int = 8,
        max_timeout_seconds: int = 30 * 86400,
    ) -> None:
        self._commands = commands
        self._options = options or SubmitOptions()
        self._poll_interval = poll_interval_seconds
        self._submit_slots = asyncio.Semaphore(submit_concurrency)
        self._max_timeout_seconds = max_timeout_seconds
        self._installation_id = ""
        self._capabilities: Capabilities | None = None
        self._poller: StatusPoller | None = None

    @property
    def name(self) -> str:
        """``slurm``."""
        return "slurm"

    async def open(self, installation_id: str) -> None:
        """Read the partition's nodes from ``sinfo`` and get ready to follow jobs.

        Raises:
            ExecutorUnavailable: sinfo failed, or the partition does not exist.
        """
        self._installation_id = installation_id
        partitions, default = parse_sinfo(await self._commands.sinfo(), self._max_timeout_seconds)
        wanted = self._options.partition or default
        chosen = [p for p in partitions if p.name == wanted]
        if not chosen:
            known = ", ".join(p.name for p in partitions) or "none"
            raise ExecutorUnavailable(f"Slurm partition {wanted!r} not found (partitions: {known})")
        self._capabilities = Capabilities(
            executor=self.name,
            partitions=(chosen[0],),
            queues_itself=True,
            enforces_timeouts=False,
        )
        self._poller = StatusPoller(self._commands, self._poll_interval)

    def capabilities(self) -> Capabilities:
        """The partition jobs are submitted to, as ``sinfo`` described it at :meth:`open`."""
        if self._capabilities is None:
            raise ExecutorUnavailable("the Slurm executor has not been opened")
        return self._capabilities

    async def launch(self, request: LaunchRequest) -> str:
        """Submit the job with sbatch and return its Slurm job id.

        Raises:
            SubmissionRefused: Slurm refused the job (its message says why).
            ExecutorUnavailable: the controller could not be reached.
        """
        self._poller_or_raise()
        arguments = sbatch_arguments(request, self._name(request), self._options)
        script = batch_script(request)
        async with self._submit_slots:
            return await self._commands.sbatch(arguments, script)

    async def wait_started(self, request: LaunchRequest, executor_job_id: str) -> datetime | None:
        """When Slurm started the job (whole seconds), or None if it ended without starting."""
        watched = self._poller_or_raise().watch(executor_job_id, self._name(request))
        return await asyncio.shield(watched.started)

    async def locate(self, requests: Sequence[LaunchRequest]) -> dict[str, str]:
        """Find submitted jobs by name: in squeue, then in the job completion records."""
        if not requests:
            return {}
        wanted = {self._name(request): request.job_id for request in requests}
        found: dict[str, str] = {}
        for record in await self._commands.squeue():
            if record.name in wanted:
                found[wanted[record.name]] = _latest(found.get(wanted[record.name]), record.job_id)
        if len(found) < len(wanted):
            for record in await self._commands.completed(None):
                job_id = wanted.get(record.name)
                if job_id is not None and job_id not in found:
                    found[job_id] = record.job_id
        return found

    async def wait(self, request: LaunchRequest, executor_job_id: str) -> Outcome:
        """How the job ended, from squeue and the job completion records."""
        watched = self._poller_or_raise().watch(executor_job_id, self._name(request))
        return await asyncio.shield(watched.ended)

    async def cancel(self, request: LaunchRequest, executor_job_id: str) -> None:
        """``scancel`` the job (Slurm sends SIGTERM, then SIGKILL after KillWait)."""
        await self._commands.scancel([executor_job_id])

    async def close(self) -> None:
        """Stop polling; the jobs stay in Slurm and are adopted after a restart."""
        if self._poller is not None:
            await self._poller.close()
        self._commands.close()

    def _name(self, request: LaunchRequest) -> str:
        return job_name(self._installation_id, request.job_id)

    def _poller_or_raise(self) -> StatusPoller:
        if self._poller is None:
            raise ExecutorUnavailable("the Slurm executor has not been opened")
        return self._poller


def _latest(current: str | None, candidate: str) -> str:
    """Of two Slurm jobs with one name, the later submitted (there should be only one)."""
    if current is None:
        return candidate
    return max(current, candidate, key=lambda job_id: int(job_id) if job_id.isdigit() else -1)
