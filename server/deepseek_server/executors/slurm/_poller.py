"""One status poll for all watched jobs per interval: never a command per job.

Each interval runs one ``squeue`` listing every job of this user; jobs seen running get their
start resolved; jobs seen ended, or no longer listed (purged from the controller), are looked up
together in one ``sacct -c`` (the job completion records), which has their exit codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from deepseek_server.executors.base import ExecutorUnavailable, Outcome, OutcomeKind
from deepseek_server.executors.slurm._commands import SlurmCommands
from deepseek_server.executors.slurm._parsing import JobRecord, outcome_of

_log = logging.getLogger(__name__)

# How long a job that squeue shows ended may lack a completion record before squeue's view
# (without the exit code) is taken as its outcome.
RECORD_PATIENCE_SECONDS = 10.0
# How long a job may be unknown to both squeue and sacct before it is reported lost.
LOST_AFTER_SECONDS = 60.0


@dataclass
class Watched:
    """One Slurm job being followed, and what its followers wait for."""

    slurm_id: str
    name: str
    started: asyncio.Future[datetime | None]
    ended: asyncio.Future[Outcome]
    unresolved_since: float | None = None
    seen: JobRecord | None = field(default=None, repr=False)


class StatusPoller:
    """Follows Slurm jobs by id, polling while any is followed.

    Args:
        commands: the Slurm commands.
        interval_seconds: time between two polls.
    """

    def __init__(self, commands: SlurmCommands, interval_seconds: float) -> None:
        self._commands = commands
        self._interval = interval_seconds
        self._watched: dict[str, Watched] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closed = False

    def watch(self, slurm_id: str, name: str) -> Watched:
        """Follow a job (every caller of one id shares its futures)."""
        if self._closed:
            raise ExecutorUnavailable("the Slurm executor was closed")
        watched = self._watched.get(slurm_id)
        if watched is None:
            loop = asyncio.get_running_loop()
            watched = Watched(slurm_id, name, loop.create_future(), loop.create_future())
            self._watched[slurm_id] = watched
            self._wake.set()
            if self._task is None:
                self._task = asyncio.create_task(self._run(), name="slurm-status-poller")
        return watched

    async def close(self) -> None:
        """Stop polling; pending followers get :class:`ExecutorUnavailable`."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for watched in self._watched.values():
            for future in (watched.started, watched.ended):
                if not future.done():
                    future.set_exception(ExecutorUnavailable("the Slurm executor was closed"))
                    # Followers may be gone already (the gateway is stopping): nobody must
                    # have to retrieve these.
                    future.exception()
        self._watched.clear()

    async def _run(self) -> None:
        while True:
            if not self._watched:
                self._wake.clear()
                await self._wake.wait()
            try:
                await self.poll()
            except ExecutorUnavailable as error:
                _log.warning("polling Slurm failed: %s", error)
            except Exception:
                _log.exception("polling Slurm failed")
            await asyncio.sleep(self._interval)

    async def poll(self) -> None:
        """One round: squeue for everything, then sacct -c for whatever ended or vanished."""
        listed = {record.job_id: record for record in await self._commands.squeue()}
        now = time.monotonic()
        unresolved: list[Watched] = []
        for watched in list(self._watched.values()):
            record = listed.get(watched.slurm_id)
            if record is not None and record.name != watched.name:
                record = None  # An id reused after the cluster's state was wiped: not ours.
            watched.seen = record or watched.seen
            if record is not None and record.has_started:
                _resolve(watched.started, record.start)
            if record is None or record.has_ended:
                watched.unresolved_since = watched.unresolved_since or now
                unresolved.append(watched)
        if not unresolved:
            return
        completed = await self._commands.completed([w.slurm_id for w in unresolved])
        by_id = {(r.job_id, r.name): r for r in completed}
        for watched in unresolved:
            record = by_id.get((watched.slurm_id, watched.name))
            seen = watched.seen
            waited = now - (watched.unresolved_since or now)
            if record is not None:
                self._end(watched, record, seen.reason if seen is not None else "")
            elif seen is not None and seen.has_ended and waited >= RECORD_PATIENCE_SECONDS:
                self._end(watched, seen, seen.reason)
            elif seen is None and waited >= LOST_AFTER_SECONDS:
                self._lose(watched)

    def _end(self, watched: Watched, record: JobRecord, reason: str) -> None:
        outcome = outcome_of(record, reason)
        _resolve(watched.started, outcome.start_time)
        if not watched.ended.done():
            watched.ended.set_result(outcome)
        self._watched.pop(watched.slurm_id, None)

    def _lose(self, watched: Watched) -> None:
        _resolve(watched.started, None)
        if not watched.ended.done():
            watched.ended.set_result(
                Outcome(
                    OutcomeKind.LOST,
                    message=f"Slurm job {watched.slurm_id} is known neither to the controller "
                    "nor to the job completion records",
                )
            )
        self._watched.pop(watched.slurm_id, None)


def _resolve(future: asyncio.Future[datetime | None], value: datetime | None) -> None:
    if not future.done():
        future.set_result(value)
