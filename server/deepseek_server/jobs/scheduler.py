"""Moves submitted jobs through QUEUED -> RUNNING -> a terminal state.

The scheduler holds the gateway's live view of active jobs: which wait for dependencies, which
fit the free capacity, which run and how they ended. Every transition is committed (through the
shared :class:`~deepseek_server.storage.GroupCommit`) before it is published to watchers; the
live view is rebuilt from the database after a restart (:meth:`Scheduler.recover`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from deepseek_server.executors.base import (
    Capabilities,
    Executor,
    ExecutorUnavailable,
    LaunchRequest,
    Outcome,
    OutcomeKind,
    Resources,
)
from deepseek_server.jobs.model import Job, JobEvent, JobState, StateReason, Usage, utc_now
from deepseek_server.jobs.repository import Change, JobRepository
from deepseek_server.jobs.workspace import JobWorkspace, read_metrics

_log = logging.getLogger(__name__)

Commit = Callable[[Sequence[Change]], Awaitable[list[JobEvent | None]]]
Publish = Callable[[Sequence[JobEvent | None]], None]

# A gateway-side backstop behind executors that enforce timeouts themselves (the local
# supervisor does, to the second): it only acts if the executor did not.
TIMEOUT_BACKSTOP_SECONDS = 5.0


@dataclass
class _Active:
    job: Job
    waiting_on: set[str] = field(default_factory=set)
    request: LaunchRequest | None = None
    executor_job_id: str = ""
    cancel_requested: bool = False
    timed_out: bool = False
    timer: asyncio.TimerHandle | None = None


@dataclass
class _Capacity:
    cpus: int
    memory_gb: int
    gpus: int

    def fits(self, need: Resources) -> bool:
        return (
            need.cpus_per_node <= self.cpus
            and need.memory_gb <= self.memory_gb
            and need.gpus_per_node <= self.gpus
        )

    def take(self, need: Resources, sign: int = 1) -> None:
        self.cpus -= sign * need.cpus_per_node
        self.memory_gb -= sign * need.memory_gb
        self.gpus -= sign * need.gpus_per_node


class Scheduler:
    """Admits, starts, watches and ends jobs on one executor."""

    def __init__(
        self,
        executor: Executor,
        repository: JobRepository,
        commit: Commit,
        publish: Publish,
        workspace: JobWorkspace,
        base_environment: Mapping[str, str],
    ) -> None:
        self._executor = executor
        self._repository = repository
        self._commit = commit
        self._publish = publish
        self._workspace = workspace
        self._base_environment = dict(base_environment)
        self._capabilities: Capabilities = executor.capabilities()
        partition = self._capabilities.partitions[0]
        self._free = _Capacity(
            partition.cpus_per_node, partition.memory_gb_per_node, partition.gpus_per_node
        )
        self._queued: dict[str, _Active] = {}
        self._running: dict[str, _Active] = {}
        self._dependents: dict[str, set[str]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def capabilities(self) -> Capabilities:
        """What the executor can ever run."""
        return self._capabilities

    def start(self) -> None:
        """Begin dispatching."""
        self._loop_task = asyncio.create_task(self._dispatch_loop(), name="job-dispatch")

    async def close(self) -> None:
        """Stop dispatching and watching; running jobs keep running and are adopted later."""
        self._closed = True
        if self._loop_task is not None:
            self._loop_task.cancel()
        for active in self._running.values():
            if active.timer is not None:
                active.timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._loop_task is not None:
            await asyncio.gather(self._loop_task, return_exceptions=True)
        await self._executor.close()

    async def recover(self, unfinished: Iterable[Job]) -> None:
        """Rebuild the live view after a restart: adopt running jobs, requeue queued ones."""
        queued = []
        for job in unfinished:
            if job.state is JobState.RUNNING:
                active = _Active(job, cancel_requested=job.cancel_requested)
                active.executor_job_id = job.executor_job_id
                active.request = self._workspace.launch_request(job, self._base_environment)
                self._take(active)
                self._running[job.id] = active
                self._arm_timer(active)
                self._spawn(self._watch(active))
            elif job.state is JobState.QUEUED:
                queued.append(job)
        await self.admit(queued)

    async def admit(self, jobs: Sequence[Job]) -> None:
        """Take newly QUEUED jobs (committed already) into the queue."""
        if not jobs:
            return
        for job in jobs:
            active = _Active(job, waiting_on=set(job.spec.job_dependencies))
            self._queued[job.id] = active
            for dependency in active.waiting_on:
                self._dependents.setdefault(dependency, set()).add(job.id)
        # A dependency may have ended before this job was registered as its dependent: read the
        # committed states now. One that ends after this read notifies the registered dependent.
        dependencies = sorted({d for job in jobs for d in job.spec.job_dependencies})
        if dependencies:
            owners = {job.owner for job in jobs}
            states: dict[str, JobState] = {}
            for owner in owners:
                found = await self._repository.get_many(dependencies, owner)
                states.update({job_id: job.state for job_id, job in found.items()})
            await self._resolve_dependencies(states)
        self._wake.set()

    async def cancel(self, job: Job) -> Job | None:
        """Cancel an active job. Returns the job if it was handled here, None if not active."""
        waiting = self._queued.pop(job.id, None)
        if waiting is not None:
            self._forget_dependencies(waiting)
            ended = _ended(waiting.job, JobState.CANCELLED, StateReason.CANCELLED_BY_USER, "")
            await self._transition([(ended, waiting.job.state)])
            await self._fail_dependents([ended.id], ended.state)
            self._wake.set()
            return ended
        active = self._running.get(job.id)
        if active is None:
            return None
        if not active.cancel_requested:
            # A job still starting sees the flag before it launches and never runs.
            active.cancel_requested = True
            if active.job.state is JobState.RUNNING:
                active.job = replace(active.job, cancel_requested=True)
                await self._repository_note(active.job)
            if active.executor_job_id and active.request is not None:
                await self._executor.cancel(active.request, active.executor_job_id)
        return active.job

    async def dependency_ended(self, job_id: str, state: JobState) -> None:
        """A job that others may depend on ended outside the scheduler (cancelled unsubmitted)."""
        await self._resolve_dependencies({job_id: state})

    def wake(self) -> None:
        """Try dispatching again (e.g. after a dataset was sealed)."""
        self._wake.set()

    async def _dispatch_loop(self) -> None:
        while not self._closed:
            await self._wake.wait()
            self._wake.clear()
            try:
                self._dispatch_ready()
            except Exception:
                _log.exception("dispatching jobs failed")

    def _dispatch_ready(self) -> None:
        queues_itself = self._capabilities.queues_itself
        for job_id, active in list(self._queued.items()):
            if active.waiting_on:
                continue
            need = active.job.spec.resources
            if not queues_itself and not self._free.fits(need):
                continue
            del self._queued[job_id]
            self._running[job_id] = active
            self._take(active)
            self._spawn(self._start(active))

    async def _start(self, active: _Active) -> None:
        now = utc_now()
        running = replace(
            active.job,
            state=JobState.RUNNING,
            reason=StateReason.NONE,
            message="",
            start_time=now,
            update_time=now,
            executor=self._executor.name,
        )
        request = self._workspace.launch_request(running, self._base_environment)
        active.request = request
        await self._transition([(running, JobState.QUEUED)])
        active.job = replace(running, cancel_requested=active.cancel_requested)
        if active.cancel_requested:
            await self._finish(
                active, Outcome(OutcomeKind.CANCELLED, "cancelled before it started")
            )
            return
        try:
            await asyncio.to_thread(
                self._workspace.prepare, request, self._workspace.inputs(running.id)
            )
            active.executor_job_id = await self._executor.launch(request)
        except ExecutorUnavailable as error:
            await self._finish(active, Outcome(OutcomeKind.LAUNCH_FAILED, message=str(error)))
            return
        except Exception as error:
            _log.exception("starting job %s failed", running.id)
            await self._finish(active, Outcome(OutcomeKind.LAUNCH_FAILED, message=str(error)))
            return
        active.job = replace(
            active.job,
            executor_job_id=active.executor_job_id,
            cancel_requested=active.cancel_requested,
        )
        await self._repository_note(active.job)
        self._arm_timer(active)
        if active.cancel_requested:
            await self._executor.cancel(request, active.executor_job_id)
        await self._watch(active)

    async def _watch(self, active: _Active) -> None:
        assert active.request is not None
        try:
            outcome = await self._executor.wait(active.request, active.executor_job_id)
        except ExecutorUnavailable:
            if self._closed:
                return
            raise
        await self._finish(active, outcome)

    async def _finish(self, active: _Active, outcome: Outcome) -> None:
        job = active.job
        state, reason, message = _judge(outcome, active)
        metrics = await asyncio.to_thread(read_metrics, self._workspace.metrics(job.id))
        ended = replace(
            _ended(job, state, reason, message),
            exit_code=outcome.exit_code,
            start_time=job.start_time or outcome.start_time,
            usage=Usage(
                outcome.wall_time_seconds, outcome.cpu_time_seconds, outcome.peak_memory_bytes
            ),
            metrics=metrics,
        )
        if active.timer is not None:
            active.timer.cancel()
        await self._transition([(ended, job.state)])
        self._running.pop(job.id, None)
        self._take(active, sign=-1)
        if state is JobState.COMPLETED:
            await self._resolve_dependencies({job.id: state})
        else:
            await self._fail_dependents([job.id], state)
        self._wake.set()

    async def _resolve_dependencies(self, states: Mapping[str, JobState]) -> None:
        failed = []
        for dependency, state in states.items():
            if state is JobState.COMPLETED:
                for job_id in self._dependents.pop(dependency, set()):
                    active = self._queued.get(job_id)
                    if active is not None:
                        active.waiting_on.discard(dependency)
            elif state in (JobState.FAILED, JobState.CANCELLED):
                failed.append(dependency)
        if failed:
            await self._fail_dependents(failed, JobState.FAILED)

    async def _fail_dependents(self, ended: Sequence[str], state: JobState) -> None:
        """Fail, transitively, the queued jobs that depend on jobs that did not complete."""
        pending = list(ended)
        while pending:
            dependency = pending.pop()
            changes = []
            for job_id in sorted(self._dependents.pop(dependency, set())):
                active = self._queued.pop(job_id, None)
                if active is None:
                    continue
                self._forget_dependencies(active)
                message = f"dependency {dependency} did not complete"
                changes.append(
                    (
                        _ended(active.job, JobState.FAILED, StateReason.DEPENDENCY_FAILED, message),
                        active.job.state,
                    )
                )
                pending.append(job_id)
            if changes:
                await self._transition(changes)

    def _forget_dependencies(self, active: _Active) -> None:
        for dependency in active.waiting_on:
            waiting = self._dependents.get(dependency)
            if waiting is not None:
                waiting.discard(active.job.id)
                if not waiting:
                    del self._dependents[dependency]

    async def _transition(self, changes: Sequence[tuple[Job, JobState]]) -> None:
        events = await self._commit([Change(job, previous) for job, previous in changes])
        self._publish(events)

    async def _repository_note(self, job: Job) -> None:
        """Persist a change that is not a state transition (no event, no new sequence)."""
        await self._commit([Change(job, job.state, announce=False)])

    def _arm_timer(self, active: _Active) -> None:
        job = active.job
        if job.start_time is None:
            return
        slack = TIMEOUT_BACKSTOP_SECONDS if self._capabilities.enforces_timeouts else 0.0
        deadline = job.start_time.timestamp() + job.spec.timeout_seconds + slack
        delay = max(0.0, deadline - utc_now().timestamp())
        active.timer = asyncio.get_running_loop().call_later(
            delay, lambda: self._spawn(self._time_out(active))
        )

    async def _time_out(self, active: _Active) -> None:
        if active.job.id not in self._running or active.request is None:
            return
        active.timed_out = True
        _log.warning("job %s passed its timeout; stopping it", active.job.id)
        if active.executor_job_id:
            await self._executor.cancel(active.request, active.executor_job_id)

    def _take(self, active: _Active, sign: int = 1) -> None:
        if not self._capabilities.queues_itself:
            self._free.take(active.job.spec.resources, sign)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log.error("job task failed", exc_info=task.exception())


def _ended(job: Job, state: JobState, reason: StateReason, message: str) -> Job:
    now = utc_now()
    return replace(job, state=state, reason=reason, message=message, end_time=now, update_time=now)


def _judge(outcome: Outcome, active: _Active) -> tuple[JobState, StateReason, str]:
    """The job's final state, reason and message from the executor's outcome."""
    kind = outcome.kind
    detail = outcome.message
    if kind is OutcomeKind.EXITED:
        if outcome.exit_code == 0:
            return JobState.COMPLETED, StateReason.NONE, ""
        return (
            JobState.FAILED,
            StateReason.NON_ZERO_EXIT,
            detail or f"exit status {outcome.exit_code}",
        )
    if kind is OutcomeKind.TIMED_OUT or (active.timed_out and kind is OutcomeKind.CANCELLED):
        timeout = active.job.spec.timeout_seconds
        return JobState.FAILED, StateReason.TIMEOUT, f"ran longer than its timeout of {timeout} s"
    if kind is OutcomeKind.CANCELLED:
        return JobState.CANCELLED, StateReason.CANCELLED_BY_USER, detail
    if kind is OutcomeKind.SIGNALLED:
        if active.cancel_requested:
            return JobState.CANCELLED, StateReason.CANCELLED_BY_USER, detail
        return (
            JobState.FAILED,
            StateReason.NON_ZERO_EXIT,
            detail or f"killed by signal {outcome.signal}",
        )
    reasons = {
        OutcomeKind.OUT_OF_MEMORY: StateReason.OUT_OF_MEMORY,
        OutcomeKind.NODE_FAILURE: StateReason.NODE_FAILURE,
        OutcomeKind.PREEMPTED: StateReason.PREEMPTED,
        OutcomeKind.LAUNCH_FAILED: StateReason.LAUNCH_FAILED,
        OutcomeKind.LOST: StateReason.LOST,
    }
    return JobState.FAILED, reasons[kind], detail
