"""The Slurm command-line tools, each run to its end in a worker thread.

Threads, not asyncio subprocesses: starting a process (fork and exec) takes milliseconds on a
busy machine, and asyncio does it on the event loop; in a thread it blocks nothing, and several
submissions overlap.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from deepseek_server.executors.base import ExecutorUnavailable
from deepseek_server.executors.slurm._parsing import (
    SACCT_FIELDS,
    SINFO_FORMAT,
    SQUEUE_FORMAT,
    JobRecord,
    parse_sacct,
    parse_squeue,
)

_log = logging.getLogger(__name__)

# The commands print times in this zone, which the parser assumes.
_ENVIRONMENT_BASE = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C", "TZ": "UTC"}


class SubmissionRefused(ExecutorUnavailable):
    """sbatch refused the job itself (an impossible request, an unknown account)."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a finished command returned."""

    returncode: int
    stdout: str
    stderr: str


class SlurmCommands:
    """Runs sbatch, squeue, sacct, scancel and sinfo.

    Args:
        bin_dir: the directory holding the commands; empty to find them on ``PATH``.
        slurm_conf: ``SLURM_CONF`` for the commands; empty for Slurm's own default.
        timeout_seconds: how long one command may take before it is killed.
        workers: how many commands may run at once.
    """

    def __init__(
        self,
        bin_dir: str = "",
        slurm_conf: str = "",
        timeout_seconds: float = 60.0,
        workers: int = 10,
    ) -> None:
        self._bin_dir = bin_dir
        self._environment = dict(_ENVIRONMENT_BASE)
        if slurm_conf:
            self._environment["SLURM_CONF"] = slurm_conf
        self._timeout = timeout_seconds
        self._threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slurm-command")

    def close(self) -> None:
        """Let running commands finish in the background; start no new ones."""
        self._threads.shutdown(wait=False)

    async def run(self, command: str, *args: str, stdin: bytes | None = None) -> CommandResult:
        """Run one command to its end.

        A caller cancelled while the command runs does not stop it (it ends within the
        timeout): an sbatch that was started may have submitted its job.

        Raises:
            ExecutorUnavailable: the command is missing or took longer than the timeout.
        """
        program = os.path.join(self._bin_dir, command) if self._bin_dir else command
        loop = asyncio.get_running_loop()
        try:
            done = await loop.run_in_executor(self._threads, self._run, [program, *args], stdin)
        except RuntimeError as error:  # the thread pool was shut down
            raise ExecutorUnavailable(f"cannot run {program}: {error}") from error
        except OSError as error:
            raise ExecutorUnavailable(f"cannot run {program}: {error}") from error
        except subprocess.TimeoutExpired as error:
            raise ExecutorUnavailable(f"{command} took longer than {self._timeout:g} s") from error
        return CommandResult(
            done.returncode,
            done.stdout.decode(errors="replace"),
            done.stderr.decode(errors="replace"),
        )

    def _run(self, argv: list[str], stdin: bytes | None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            argv,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            env=self._environment,
            timeout=self._timeout,
            check=False,
        )

    async def sbatch(self, arguments: Sequence[str], script: str) -> str:
        """Submit a batch script read from standard input; returns the Slurm job id.

        Raises:
            SubmissionRefused: Slurm refused the job (the message is sbatch's).
            ExecutorUnavailable: the controller could not be reached.
        """
        result = await self.run("sbatch", "--parsable", *arguments, stdin=script.encode())
        if result.returncode != 0:
            message = result.stderr.strip() or f"sbatch exited with {result.returncode}"
            if "unable to contact" in message.lower() or "connection" in message.lower():
                raise ExecutorUnavailable(message)
            raise SubmissionRefused(message)
        return result.stdout.strip().split(";", 1)[0]

    async def squeue(self) -> list[JobRecord]:
        """Every job of this user that the controller still knows, finished ones included."""
        result = await self.run("squeue", "--me", "--noheader", "--states=all", "-o", SQUEUE_FORMAT)
        if result.returncode != 0:
            raise ExecutorUnavailable(f"squeue failed: {result.stderr.strip()}")
        return parse_squeue(result.stdout)

    async def completed(self, job_ids: Sequence[str] | None) -> list[JobRecord]:
        """Job completion records (``sacct -c``) of these ids, or every record for None:
        finished jobs, even those the controller has purged.

        ``sacct -c`` ignores name filters, and job ids start again at 1 when a cluster's state
        is wiped: callers match records to jobs by name.
        """
        if job_ids is not None and not job_ids:
            return []
        selection = f"--jobs={','.join(job_ids)}" if job_ids else "--starttime=2000-01-01"
        result = await self.run(
            "sacct", "--completion", "--parsable2", "--noheader", "-o", SACCT_FIELDS, selection
        )
        if result.returncode != 0:
            raise ExecutorUnavailable(f"sacct failed: {result.stderr.strip()}")
        return parse_sacct(result.stdout)

    async def scancel(self, job_ids: Sequence[str]) -> None:
        """Cancel jobs; unknown and finished ids are ignored (by scancel itself)."""
        if not job_ids:
            return
        result = await self.run("scancel", *job_ids)
        if result.returncode != 0:
            _log.warning("scancel %s failed: %s", " ".join(job_ids), result.stderr.strip())

    async def sinfo(self) -> str:
        """``sinfo`` lines of every partition, in the format the parser reads."""
        result = await self.run("sinfo", "--noheader", "-o", SINFO_FORMAT)
        if result.returncode != 0:
            raise ExecutorUnavailable(f"sinfo failed: {result.stderr.strip()}")
        return result.stdout
