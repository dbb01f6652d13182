"""Moves submitted jobs through QUEUED -> RUNNING -> a terminal state.

The scheduler holds the gateway's live view of active jobs: which wait for dependencies, which
fit the free capacity, which run and how they ended. An executor that queues itself (Slurm) gets
every ready job at once; such a job stays QUEUED until the executor starts it, and one whose
dependencies are all on that executor is handed over too, for the executor to hold.

Every transition is committed (through the shared :class:`~deepseek_server.storage.GroupCommit`)
before it is published to watchers; the live view is rebuilt from the database after a restart
(:meth:`Scheduler.recover`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from deepseek_server.accounts.model import Charge
from deepseek_server.clock import utc_now
from deepseek_server.executors.base import (
    Capabilities,
    Executor,
    ExecutorUnavailable,
    LaunchRequest,
    Outcome,
    OutcomeKind,
    Resources,
)
from deepseek_server.jobs.model import Job, JobEvent, JobState, StateReason, Usage
from deepseek_server.jobs.ports import DatasetGate
from deepseek_server.jobs.repository import Change, JobRepository
from deepseek_server.jobs.workspace import JobWorkspace, read_metrics

_log = logging.getLogger(__name__)

Commit = Callable[[Sequence[Change]], Awaitable[list[JobEvent | None]]]
Publish = Callable[[Sequence[JobEvent | None]], None]
Bill = Callable[[Job, float], Charge | None]
"""What a job that ended is charged, given its measured wall-clock seconds."""

# A gateway-side backstop behind executors that enforce timeouts themselves (the local
# supervisor does, to the second): it only acts if the executor did not.
TIMEOUT_BACKSTOP_SECONDS = 5.0
# How many queued jobs that do not fit the free capacity a dispatch pass looks past to find
# smaller ones that do (backfill), so that a long queue costs a bounded amount per pass.
BACKFILL_WINDOW = 256


@dataclass
class _Active:
    job: Job
    waiting_on: set[str] = field(default_factory=set)
    request: LaunchRequest | None = None
    executor_job_id: str = ""
    cancel_requested: bool = False
    timed_out: bool = False
    timer: asyncio.TimerHandle | None = None
    after: tuple[str, ...] = ()
    ended: bool = False
    """The job's terminal state is decided; whatever the executor reports later is ignored."""
    resources: Resources = field(init=False)

    def __post_init__(self) -> None:
        self.resources = self.job.spec.resources


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
        bill: Bill,
    ) -> None:
        self._executor = executor
        self._bill = bill
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
        # Jobs handed to the executor: RUNNING, or (an executor that queues itself) QUEUED there.
        self._running: dict[str, _Active] = {}
        self._dependents: dict[str, set[str]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._closed = False
        self.datasets: DatasetGate | None = None
        """Where jobs' dataset dependencies are looked up; without it, none are awaited."""

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
        """Rebuild the live view after a restart: adopt jobs handed to the executor (found by
        name if their id was not recorded), requeue the others."""
        queued = []
        for job in unfinished:
            if job.state is JobState.RUNNING:
                active = self._adopt(job, job.executor_job_id)
                self._arm_timer(active)
                self._spawn(self._watch(active))
            elif job.state is JobState.QUEUED and job.executor_job_id:
                self._spawn(self._follow(self._adopt(job, job.executor_job_id)))
            elif job.state is JobState.QUEUED:
                queued.append(job)
        if queued and self._capabilities.queues_itself:
            requests = [
                self._workspace.launch_request(job, self._base_environment) for job in queued
            ]
            found = await self._executor.locate(requests)
            for job in [job for job in queued if job.id in found]:
                active = self._adopt(job, found[job.id])
                await self._repository_note(active.job)
                self._spawn(self._follow(active))
            queued = [job for job in queued if job.id not in found]
        await self.admit(queued)

    def _adopt(self, job: Job, executor_job_id: str) -> _Active:
        """Take over a job a previous run handed to the executor."""
        job = replace(job, executor=self._executor.name, executor_job_id=executor_job_id)
        active = _Active(job, cancel_requested=job.cancel_requested)
        active.executor_job_id = executor_job_id
        active.request = self._workspace.launch_request(job, self._base_environment)
        if job.state is JobState.QUEUED:
            # Its dependencies, if any, are held by the executor; a failure must still end it.
            active.waiting_on = set(job.spec.job_dependencies)
            for dependency in active.waiting_on:
                self._dependents.setdefault(dependency, set()).add(job.id)
        self._take(active)
        self._running[job.id] = active
        return active

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
        await self._await_datasets(jobs)
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
        if active.job.state is JobState.QUEUED and not active.ended:
            # Queued at the executor: cancelled now; the executor drops it (or stops it, if it
            # started in the meantime) in the background.
            ended = await self._end_unstarted(
                active, JobState.CANCELLED, StateReason.CANCELLED_BY_USER, ""
            )
            await self._fail_dependents([ended.id], ended.state)
            return ended
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

    def dataset_sealed(self, owner: str, name: str) -> None:
        """Jobs that waited for this dataset only wait for the rest of their dependencies."""
        key = _dataset_key(owner, name)
        for job_id in self._dependents.pop(key, set()):
            active = self._queued.get(job_id)
            if active is not None:
                active.waiting_on.discard(key)
        self._wake.set()

    async def _await_datasets(self, jobs: Sequence[Job]) -> None:
        """Hold queued jobs until their datasets are sealed; fail those whose dataset is gone.

        Dependents are registered before the states are read, so that a dataset sealed in
        between releases them either way.
        """
        gate = self.datasets
        waiting = [job for job in jobs if job.spec.dataset_dependencies and job.id in self._queued]
        if gate is None or not waiting:
            return
        for job in waiting:
            for name in job.spec.dataset_dependencies:
                key = _dataset_key(job.owner, name)
                self._queued[job.id].waiting_on.add(key)
                self._dependents.setdefault(key, set()).add(job.id)
        for job in waiting:
            names = list(job.spec.dataset_dependencies)
            sealed = await gate.dataset_states(job.owner, names)
            missing = [name for name in names if name not in sealed]
            active = self._queued.get(job.id)
            if active is None:
                continue
            if missing:
                self._queued.pop(job.id)
                self._forget_dependencies(active)
                message = f"dataset {missing[0]} no longer exists"
                ended = _ended(active.job, JobState.FAILED, StateReason.DEPENDENCY_FAILED, message)
                await self._transition([(ended, active.job.state)])
                await self._fail_dependents([job.id], JobState.FAILED)
                continue
            for name in names:
                if sealed[name]:
                    key = _dataset_key(job.owner, name)
                    active.waiting_on.discard(key)
                    self._dependents.get(key, set()).discard(job.id)

    def _dataset_dirs(self, job: Job) -> dict[str, Path]:
        gate = self.datasets
        if gate is None:
            return {}
        return {name: gate.dataset_dir(job.owner, name) for name in job.spec.dataset_dependencies}

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
        starting: list[_Active] = []
        passed_over = 0
        for active in self._queued.values():
            if not queues_itself and (self._free.cpus <= 0 or passed_over >= BACKFILL_WINDOW):
                break  # every job needs a CPU; and a bounded look past jobs that do not fit
            if active.waiting_on:
                if not queues_itself:
                    continue
                handed = [self._running.get(d) for d in sorted(active.waiting_on)]
                if any(h is None or not h.executor_job_id or h.ended for h in handed):
                    continue
                active.after = tuple(h.executor_job_id for h in handed if h is not None)
            if not queues_itself and not self._free.fits(active.resources):
                passed_over += 1
                continue
            self._take(active)
            starting.append(active)
        for active in starting:
            del self._queued[active.job.id]
            self._running[active.job.id] = active
            self._spawn(self._start(active))

    async def _start(self, active: _Active) -> None:
        if self._capabilities.queues_itself:
            await self._submit(active)
            return
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
                self._workspace.prepare,
                request,
                self._workspace.inputs(running.id),
                self._dataset_dirs(running),
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

    async def _submit(self, active: _Active) -> None:
        """Hand a QUEUED job to an executor that queues it, then follow it."""
        job = replace(active.job, executor=self._executor.name)
        request = replace(
            self._workspace.launch_request(job, self._base_environment), after=active.after
        )
        active.request = request
        try:
            await asyncio.to_thread(
                self._workspace.prepare,
                request,
                self._workspace.inputs(job.id),
                self._dataset_dirs(job),
            )
            if active.ended:
                return
            executor_job_id = await self._executor.launch(request)
        except Exception as error:
            if not isinstance(error, ExecutorUnavailable):
                _log.exception("submitting job %s failed", job.id)
            await self._finish(active, Outcome(OutcomeKind.LAUNCH_FAILED, message=str(error)))
            return
        active.executor_job_id = executor_job_id
        if active.ended:  # Cancelled (or its dependency failed) while it was being submitted.
            await self._executor.cancel(request, executor_job_id)
            return
        active.job = replace(job, executor_job_id=executor_job_id)
        await self._repository_note(active.job)
        if self._dependents.get(job.id):
            self._wake.set()  # Its dependents can now be handed over too.
        await self._follow(active)

    async def _follow(self, active: _Active) -> None:
        """Wait until the executor starts a job it queued (RUNNING from then on), then watch it."""
        assert active.request is not None
        try:
            started = await self._executor.wait_started(active.request, active.executor_job_id)
        except ExecutorUnavailable:
            if self._closed:
                return
            raise
        if active.ended:
            return
        if started is not None:
            job = active.job
            # Executors may report whole seconds: a job does not start before it was submitted.
            start = max(started, job.submit_time) if job.submit_time else started
            running = replace(
                job,
                state=JobState.RUNNING,
                reason=StateReason.NONE,
                message="",
                start_time=start,
                update_time=utc_now(),
            )
            await self._transition([(running, JobState.QUEUED)])
            active.job = replace(running, cancel_requested=active.cancel_requested)
            self._arm_timer(active)
        await self._watch(active)

    async def _end_unstarted(
        self, active: _Active, state: JobState, reason: StateReason, message: str
    ) -> Job:
        """End a job the executor holds but has not started; the executor is told to drop it."""
        active.ended = True
        active.cancel_requested = True
        self._running.pop(active.job.id, None)
        self._forget_dependencies(active)
        ended = _ended(active.job, state, reason, message)
        await self._transition([(ended, active.job.state)])
        active.job = ended
        if active.executor_job_id and active.request is not None:
            await self._executor.cancel(active.request, active.executor_job_id)
        self._wake.set()
        return ended

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
        if active.ended:
            return
        active.ended = True
        job = active.job
        state, reason, message = _judge(outcome, active)
        metrics = await asyncio.to_thread(read_metrics, self._workspace.metrics(job.id))
        ended = _ended(job, state, reason, message)
        ended = replace(
            ended,
            end_time=_end_time(ended, outcome, active),
            exit_code=outcome.exit_code,
            start_time=job.start_time or outcome.start_time,
            usage=Usage(
                outcome.wall_time_seconds, outcome.cpu_time_seconds, outcome.peak_memory_bytes
            ),
            metrics=metrics,
        )
        if active.timer is not None:
            active.timer.cancel()
        charge = self._bill(ended, outcome.wall_time_seconds)
        if charge is not None:
            ended = replace(ended, cost=charge.cost)
        events = await self._commit([Change(ended, job.state, charge=charge)])
        self._publish(events)
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
                message = f"dependency {dependency} did not complete"
                active = self._queued.pop(job_id, None)
                if active is None:
                    handed = self._running.get(job_id)
                    if handed and handed.job.state is JobState.QUEUED and not handed.ended:
                        await self._end_unstarted(
                            handed, JobState.FAILED, StateReason.DEPENDENCY_FAILED, message
                        )
                        pending.append(job_id)
                    continue
                self._forget_dependencies(active)
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
            self._free.take(active.resources, sign)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log.error("job task failed", exc_info=task.exception())


def _dataset_key(owner: str, name: str) -> str:
    # Job ids start with "job-"; this key cannot be mistaken for one.
    return f"dataset:{owner}/{name}"


def _ended(job: Job, state: JobState, reason: StateReason, message: str) -> Job:
    now = utc_now()
    return replace(job, state=state, reason=reason, message=message, end_time=now, update_time=now)


def _end_time(ended: Job, outcome: Outcome, active: _Active) -> datetime:
    """When the job ended: the executor's time if it says, never before the job started nor,
    for a job the gateway stopped at its timeout, before that timeout (executors may report
    whole seconds)."""
    end = outcome.end_time or ended.end_time or utc_now()
    start = ended.start_time
    if start is not None:
        end = max(end, start)
        if active.timed_out:
            end = max(end, start + timedelta(seconds=ended.spec.timeout_seconds))
    return end


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
        OutcomeKind.DEPENDENCY_FAILED: StateReason.DEPENDENCY_FAILED,
    }
    return JobState.FAILED, reasons[kind], detail
