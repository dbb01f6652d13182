"""The local executor: runs each job as processes on this machine, under its own supervisor.

Every job gets a supervisor process (:mod:`.supervisor`) in a session of its own, so jobs outlive
a gateway crash; the supervisor enforces the timeout, handles cancellation, kills whatever the job
leaves behind and writes the outcome to the job's control directory. The executor keeps nothing
that it cannot rebuild: the ``executor_job_id`` (``"<pid>:<start time>"``) finds the supervisor
again after a restart, even if its pid has been reused, and ``launch.json`` says which GPUs the
job holds.

CPU and memory requests are not enforced (no cgroups): the caller admits jobs by capacity.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deepseek_server.executors import supervisor
from deepseek_server.executors.base import (
    Capabilities,
    ExecutorUnavailable,
    GpuType,
    LaunchRequest,
    Outcome,
    OutcomeKind,
    Partition,
)

__all__ = ["LocalExecutor"]

_PARTITION = "local"
# Every pid this process spawned as a supervisor: only those are ours to reap. A process-wide
# fact, shared by executor instances (an instance created after another one closed adopts its
# jobs and must reap them too).
_SPAWNED: set[int] = set()
# How long a supervisor found without its id may take to record itself after a restart.
_START_UP_PATIENCE_SECONDS = 10.0
# Supervisors of launches cancelled before they returned an id: reaped at the next launch/close.
_ABANDONED: set[int] = set()


@dataclass(frozen=True, slots=True)
class _SupervisorRef:
    """Identifies one supervisor process across pid reuse."""

    pid: int
    start_time: int

    @classmethod
    def parse(cls, executor_job_id: str) -> _SupervisorRef | None:
        pid, _, start_time = executor_job_id.partition(":")
        if not (pid.isdigit() and start_time.isdigit()):
            return None
        return cls(int(pid), int(start_time))

    def __str__(self) -> str:
        return f"{self.pid}:{self.start_time}"

    def is_running(self, control_dir: Path) -> bool:
        """Whether this supervisor exists (perhaps as an unreaped zombie) and is the job's.

        The command line check guards against a pid and start time that match by chance
        after a reboot. The command line is empty while the process is still in ``execve``
        (``posix_spawn`` returns before exec has set it up), and for a zombie.
        """
        stat = supervisor.proc_stat(self.pid)
        if stat is None or stat[2] != self.start_time:
            return False
        try:
            cmdline = Path(f"/proc/{self.pid}/cmdline").read_bytes()
        except OSError:
            return False
        return not cmdline or os.fsencode(control_dir) in cmdline.split(b"\0")


class _GpuPool:
    """GPU indices of this machine, each held by at most one job."""

    def __init__(self, count: int) -> None:
        self._count = count
        self._free = set(range(count))
        self._held: dict[str, tuple[int, ...]] = {}

    def take(self, count: int) -> tuple[int, ...]:
        if count > len(self._free):
            raise ValueError(f"{count} GPU(s) requested, {len(self._free)} free")
        chosen = tuple(sorted(self._free)[:count])
        self._free.difference_update(chosen)
        return chosen

    def give_back(self, indices: tuple[int, ...]) -> None:
        self._free.update(indices)

    def hold(self, executor_job_id: str, indices: tuple[int, ...]) -> None:
        self._held[executor_job_id] = indices

    def adopt(self, executor_job_id: str, indices: tuple[int, ...]) -> None:
        """Mark the GPUs of a job launched before a restart as held."""
        if executor_job_id not in self._held:
            valid = tuple(index for index in indices if 0 <= index < self._count)
            self._free.difference_update(valid)
            self._held[executor_job_id] = valid

    def release(self, executor_job_id: str) -> None:
        self._free.update(self._held.pop(executor_job_id, ()))


class LocalExecutor:
    """Runs jobs as processes on this machine; implements :class:`~.base.Executor`.

    Args:
        cpus: CPUs offered; None means ``os.cpu_count()``.
        memory_gb: memory offered in GiB; None means the machine's total, rounded down.
        gpus: GPUs offered; jobs get indices ``0..gpus-1`` through ``CUDA_VISIBLE_DEVICES``.
        gpu_type: the model of those GPUs.
        kill_grace_seconds: time between SIGTERM and SIGKILL when a job is stopped.
        max_timeout_seconds: the longest timeout a job may have (also used for a timeout of 0).
        python: the interpreter that runs the supervisors.

    Jobs launched before a restart are adopted by calling :meth:`wait` on them; do that before
    launching new jobs, so that the GPUs they hold are not handed out twice.
    """

    def __init__(
        self,
        cpus: int | None = None,
        memory_gb: int | None = None,
        gpus: int = 0,
        gpu_type: GpuType = GpuType.A100,
        kill_grace_seconds: float = 10.0,
        max_timeout_seconds: int = 30 * 86400,
        python: str = sys.executable,
    ) -> None:
        self._cpus = cpus if cpus is not None else os.cpu_count() or 1
        self._memory_gb = memory_gb if memory_gb is not None else _total_memory_gb()
        self._gpus = gpus
        self._gpu_type = gpu_type
        self._kill_grace_seconds = kill_grace_seconds
        self._max_timeout_seconds = max_timeout_seconds
        self._python = python
        self._gpu_pool = _GpuPool(gpus)
        self._waiters: set[asyncio.Future[None]] = set()
        self._closed = False

    @property
    def name(self) -> str:
        """``local``."""
        return "local"

    async def open(self, installation_id: str) -> None:
        """Nothing to prepare: this machine is always there."""

    def capabilities(self) -> Capabilities:
        """One partition, ``local``: this machine, a single node, admitted by the caller."""
        partition = Partition(
            name=_PARTITION,
            max_nodes=1,
            cpus_per_node=self._cpus,
            memory_gb_per_node=self._memory_gb,
            gpus_per_node=self._gpus,
            gpu_types=(self._gpu_type,) if self._gpus else (),
            max_timeout_seconds=self._max_timeout_seconds,
        )
        return Capabilities(executor=self.name, partitions=(partition,), queues_itself=False)

    async def launch(self, request: LaunchRequest) -> str:
        """Start the job's supervisor and return ``"<pid>:<start time>"`` of it.

        Raises:
            ValueError: the job needs more than one node or more GPUs than are free (the
                caller admits jobs by capacity, so this is a bug of the caller).
            ExecutorUnavailable: the supervisor process could not be started.
        """
        self._check_open()
        if request.resources.nodes != 1:
            raise ValueError(f"the local executor runs 1 node, not {request.resources.nodes}")
        _reap_abandoned()
        gpu_indices = self._gpu_pool.take(request.resources.gpus_per_node)
        starting = asyncio.ensure_future(
            asyncio.to_thread(self._start_supervisor, request, gpu_indices)
        )
        try:
            # Shielded: the thread cannot be stopped, so a cancelled launch must see it through.
            ref = await asyncio.shield(starting)
        except asyncio.CancelledError:
            self._gpu_pool.give_back(gpu_indices)
            starting.add_done_callback(functools.partial(_abandon, request.control_dir))
            # Cancelled only once the spawn is over and its job cancelled in turn, so that the
            # caller is left with nothing running (if cancelled again, the callback still is).
            await asyncio.wait({starting})
            raise
        except BaseException:
            self._gpu_pool.give_back(gpu_indices)
            raise
        executor_job_id = str(ref)
        self._gpu_pool.hold(executor_job_id, gpu_indices)
        return executor_job_id

    async def wait_started(self, request: LaunchRequest, executor_job_id: str) -> datetime | None:
        """Now: a local job starts when it is launched."""
        return datetime.now(UTC)

    async def locate(self, requests: Sequence[LaunchRequest]) -> dict[str, str]:
        """Nothing: a local job is RUNNING before it is launched, and :meth:`wait` finds its
        supervisor through the control directory even without an id."""
        return {}

    async def wait(self, request: LaunchRequest, executor_job_id: str) -> Outcome:
        """Wait for the job's supervisor to end and return the outcome it recorded.

        Works for supervisors started by another executor instance or process (adoption); the
        outcome is ``LOST`` when the supervisor is gone without recording one.
        """
        self._check_open()
        control_dir = request.control_dir.absolute()
        # No id: the gateway stopped between launching and recording it; the supervisor
        # wrote down who it is in the control directory.
        ref = _SupervisorRef.parse(executor_job_id) or await _recorded_supervisor(control_dir)
        outcome = _read_outcome(control_dir)
        if outcome is None:
            self._gpu_pool.adopt(executor_job_id, _launched_gpus(control_dir))
        # A supervisor we spawned is awaited even after its outcome appeared, to reap it.
        if ref is not None and (outcome is None or ref.pid in _SPAWNED):
            await self._wait_for_exit(ref, control_dir)
            _reap(ref.pid)
        if outcome is None:
            outcome = _read_outcome(control_dir) or Outcome(
                OutcomeKind.LOST, message="the supervisor ended without recording an outcome"
            )
        self._gpu_pool.release(executor_job_id)
        return outcome

    async def cancel(self, request: LaunchRequest, executor_job_id: str) -> None:
        """Send SIGTERM to the job's supervisor, which stops the job; idempotent.

        A supervisor that has ended (or an id that names none) is left alone.
        """
        ref = _SupervisorRef.parse(executor_job_id)
        if ref is not None:
            _terminate(ref, request.control_dir.absolute())

    async def close(self) -> None:
        """Stop watching jobs; their supervisors keep running. Pending waits raise."""
        self._closed = True
        _reap_abandoned()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(ExecutorUnavailable("the local executor was closed"))

    def _check_open(self) -> None:
        if self._closed:
            raise ExecutorUnavailable("the local executor was closed")

    def _start_supervisor(
        self, request: LaunchRequest, gpu_indices: tuple[int, ...]
    ) -> _SupervisorRef:
        """Write ``launch.json`` and spawn the supervisor (blocking: fsync and spawn)."""
        control_dir = request.control_dir.absolute()
        control_dir.mkdir(parents=True, exist_ok=True)
        environment = dict(request.environment)
        # Empty, not unset: a job must not see GPUs it did not ask for.
        environment["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpu_indices))
        timeout = request.timeout_seconds
        if not 0 < timeout <= self._max_timeout_seconds:
            timeout = self._max_timeout_seconds
        launch = {
            "job_id": request.job_id,
            "command": request.command,
            "environment": environment,
            "workdir": str(request.workdir.absolute()),
            "stdout_path": str(request.stdout_path.absolute()),
            "stderr_path": str(request.stderr_path.absolute()),
            "timeout_seconds": timeout,
            "kill_grace_seconds": self._kill_grace_seconds,
            "gpu_indices": list(gpu_indices),
        }
        supervisor.write_json_atomic(str(control_dir / supervisor.LAUNCH_FILE), launch)
        return self._spawn_supervisor(control_dir)

    def _spawn_supervisor(self, control_dir: Path) -> _SupervisorRef:
        argv = [self._python, "-I", "-S", "-X", "utf8", supervisor.__file__, str(control_dir)]
        log = str(control_dir / "supervisor.log")
        try:
            pid = os.posix_spawn(
                self._python,
                argv,
                {},
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 2, log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
                ],
                setsid=True,
                # Blocked until the supervisor waits for it: an early cancel is not lost.
                setsigmask={signal.SIGTERM},
                setsigdef={signal.SIGTERM, signal.SIGCHLD, signal.SIGINT, signal.SIGHUP},
            )
        except OSError as error:
            raise ExecutorUnavailable(f"cannot start a job supervisor: {error}") from error
        _SPAWNED.add(pid)
        # The supervisor cannot be reaped before we call waitpid, so its stat is readable.
        stat = supervisor.proc_stat(pid)
        if stat is None:
            raise ExecutorUnavailable(f"supervisor {pid} vanished at start-up")
        return _SupervisorRef(pid, stat[2])

    async def _wait_for_exit(self, ref: _SupervisorRef, control_dir: Path) -> None:
        """Return when the supervisor has exited, without polling: its pidfd becomes readable."""
        try:
            pidfd = os.pidfd_open(ref.pid)
        except ProcessLookupError:
            return
        try:
            if not ref.is_running(control_dir):
                return
            loop = asyncio.get_running_loop()
            exited: asyncio.Future[None] = loop.create_future()
            loop.add_reader(pidfd, _resolve, exited)
            self._waiters.add(exited)
            try:
                await exited
            finally:
                self._waiters.discard(exited)
                loop.remove_reader(pidfd)
        finally:
            os.close(pidfd)


def _terminate(ref: _SupervisorRef, control_dir: Path) -> None:
    try:
        pidfd = os.pidfd_open(ref.pid)
    except ProcessLookupError:
        return
    try:
        # Checked after opening the pidfd: the signal then reaches the checked process.
        if ref.is_running(control_dir):
            signal.pidfd_send_signal(pidfd, signal.SIGTERM)
    except ProcessLookupError:
        pass
    finally:
        os.close(pidfd)


def _abandon(control_dir: Path, starting: asyncio.Future[_SupervisorRef]) -> None:
    """Cancel a job whose launch() was cancelled: nobody would learn its id, so it must not run."""
    if starting.cancelled() or starting.exception() is not None:
        return
    ref = starting.result()
    _terminate(ref, control_dir.absolute())
    _ABANDONED.add(ref.pid)


def _reap_abandoned() -> None:
    for pid in list(_ABANDONED):
        try:
            reaped, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            reaped = pid
        if reaped:
            _ABANDONED.discard(pid)
            _SPAWNED.discard(pid)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _reap(pid: int) -> None:
    """Collect the exit status of a supervisor this process spawned, so no zombie is left."""
    if pid not in _SPAWNED:
        return
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        reaped = pid  # Someone else (a waitpid(-1) elsewhere) reaped it.
    if reaped:
        _SPAWNED.discard(pid)


def _read_outcome(control_dir: Path) -> Outcome | None:
    """The outcome the supervisor recorded; None if none yet, LOST if it is unreadable.

    Read inline: a few hundred bytes from a local file cost less than a thread hop.
    """
    try:
        raw = (control_dir / supervisor.OUTCOME_FILE).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        return Outcome(OutcomeKind.LOST, message=f"cannot read the outcome: {error}")
    try:
        return _outcome_from_record(json.loads(raw))
    except (ValueError, TypeError, KeyError) as error:
        return Outcome(OutcomeKind.LOST, message=f"unreadable outcome: {error!r}")


def _outcome_from_record(record: dict[str, Any]) -> Outcome:
    def timestamp(key: str) -> datetime | None:
        value = record.get(key)
        return datetime.fromisoformat(value) if value else None

    return Outcome(
        kind=OutcomeKind(record["kind"]),
        message=str(record.get("message", "")),
        exit_code=record.get("exit_code"),
        signal=record.get("signal"),
        start_time=timestamp("start_time"),
        end_time=timestamp("end_time"),
        wall_time_seconds=float(record.get("wall_time_seconds", 0.0)),
        cpu_time_seconds=float(record.get("cpu_time_seconds", 0.0)),
        peak_memory_bytes=int(record.get("peak_memory_bytes", 0)),
    )


async def _recorded_supervisor(control_dir: Path) -> _SupervisorRef | None:
    """The supervisor named in the control directory, once it has written itself down.

    A launch that got as far as launch.json may have a supervisor still starting: give it a
    moment (bounded) to record itself or its outcome. Without launch.json nothing was launched.
    """
    if not (control_dir / supervisor.LAUNCH_FILE).exists():
        return None
    deadline = asyncio.get_running_loop().time() + _START_UP_PATIENCE_SECONDS
    while True:
        try:
            facts = json.loads((control_dir / supervisor.SUPERVISOR_FILE).read_text())
            return _SupervisorRef(int(facts["pid"]), int(facts["start_time"]))
        except (OSError, ValueError, KeyError, TypeError):
            pass
        if (control_dir / supervisor.OUTCOME_FILE).exists():
            return None
        if asyncio.get_running_loop().time() > deadline:
            return None
        await asyncio.sleep(0.05)


def _launched_gpus(control_dir: Path) -> tuple[int, ...]:
    try:
        launch = json.loads((control_dir / supervisor.LAUNCH_FILE).read_bytes())
        return tuple(int(index) for index in launch.get("gpu_indices", ()))
    except (OSError, ValueError, TypeError, AttributeError):
        return ()


def _total_memory_gb() -> int:
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // (1024 * 1024)
    raise RuntimeError("MemTotal is missing from /proc/meminfo")
