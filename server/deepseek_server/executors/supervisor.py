"""Supervisor of one local job: runs the command, enforces its limits, records how it ended.

The local executor starts one supervisor per job, in a session of its own, as
``python -I -S -X utf8 supervisor.py CONTROL_DIR``; it outlives the gateway, so a job keeps
running and is still timed out, cancelled and accounted for while the gateway is down. It reads
``launch.json`` from the control directory and writes ``supervisor.json`` once the job is running
and ``outcome.json`` (atomically) when the job and all its descendants are gone. A supervisor that
dies without writing ``outcome.json`` (SIGKILL) leaves the job to be reported ``lost``.

Signals: SIGTERM to the supervisor cancels the job (SIGTERM to the job's tree, SIGKILL after the
grace). The executor spawns it with SIGTERM blocked, so a cancel that arrives before the job is
set up stays pending and is seen before the command starts.

Exit codes 127 and 126 of ``/bin/sh -c`` are how the shell reports a command it could not find
or execute; the supervisor reports them as ``launch_failed`` (a job that itself exits 126 or 127
is reported the same way: the shell reserves these codes).

Resource usage covers the job's whole process tree: CPU time is user + system time of every
reaped descendant; peak memory is the largest resident set of any single process (``ru_maxrss``
of reaped children), not the sum. Linux counts the supervisor's own image in the forked child
before ``exec``, so peak memory is never below the supervisor's (about 10 MiB).

This module is run as a script and imported by the executor: it uses the standard library only
and keeps its imports cheap, since its start-up time is part of every job's launch latency.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
import time

# Only for the type checker: importing typing and collections.abc costs milliseconds per job.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

LAUNCH_FILE = "launch.json"
OUTCOME_FILE = "outcome.json"
SUPERVISOR_FILE = "supervisor.json"

_PR_SET_CHILD_SUBREAPER = 36
_CLEANUP_POLL_SECONDS = 0.2
_CLEANUP_LIMIT_SECONDS = 30.0
_SHELL = "/bin/sh"
_SHELL_FAILURES = {127: "command not found", 126: "permission denied"}


def proc_stat(pid: int) -> tuple[str, int, int] | None:
    """Return ``(state, ppid, start time in clock ticks since boot)`` of a process, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            raw = stat.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = raw[raw.rfind(b")") + 2 :].split()
    try:
        return fields[0].decode(), int(fields[1]), int(fields[19])
    except (IndexError, ValueError):
        return None


def write_json_atomic(path: str, data: Mapping[str, Any], *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one.

    With ``durable``, the file and its directory entry are flushed to disk before returning.
    """
    temporary = f"{path}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, json.dumps(data, indent=1).encode())
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    if durable:
        directory = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def utc_iso(epoch_seconds: float) -> str:
    """Format a POSIX timestamp as ISO 8601 UTC with microseconds (datetime is slow to import)."""
    whole = int(epoch_seconds)
    micros = int((epoch_seconds - whole) * 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{micros:06d}+00:00"


class _LaunchError(Exception):
    """The command could not be started; the message says which step failed."""


def _become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        error = ctypes.get_errno()
        print(f"supervisor: cannot become subreaper: {os.strerror(error)}", file=sys.stderr)


def _descendants(root: int) -> list[int]:
    """All live descendants of ``root``, parents before children."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = proc_stat(int(entry))
            if stat is not None:
                children.setdefault(stat[1], []).append(int(entry))
    found: list[int] = []
    frontier = [root]
    while frontier:
        found_now = [child for parent in frontier for child in children.get(parent, ())]
        found.extend(found_now)
        frontier = found_now
    return found


def _spawn(command: str, environment: Mapping[str, str], workdir: str, out: int, err: int) -> int:
    """Fork and exec ``/bin/sh -c command`` as the leader of a new process group.

    Returns once the shell is running (exec succeeded); raises :class:`_LaunchError` with the
    failing step otherwise. A close-on-exec pipe carries the child's error back: end of file
    without data means the exec happened.
    """
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which ends in exec or _exit
        step = "setpgid"
        try:
            os.close(read_end)
            os.setpgid(0, 0)
            step = f"chdir to {workdir}"
            os.chdir(workdir)
            step = "open /dev/null"
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            os.dup2(out, 1)
            os.dup2(err, 2)
            for ignored_by_python in (signal.SIGPIPE, signal.SIGXFSZ):
                signal.signal(ignored_by_python, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, ())
            step = f"exec {_SHELL}"
            os.execve(_SHELL, [_SHELL, "-c", command], dict(environment))
        except Exception as error:
            reason = error.strerror if isinstance(error, OSError) else repr(error)
            os.write(write_end, f"{step}: {reason}".encode())
        finally:
            os._exit(127)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as errors:
        failure = errors.read()
    if failure:
        os.waitpid(pid, 0)
        raise _LaunchError(failure.decode(errors="replace"))
    return pid


class _Job:
    """One run of the job's command under this supervisor, from spawn to the last reaped process."""

    def __init__(self, launch: Mapping[str, Any]) -> None:
        self.command: str = launch["command"]
        self.environment: dict[str, str] = dict(launch["environment"])
        self.workdir: str = launch["workdir"]
        self.stdout_path: str = launch["stdout_path"]
        self.stderr_path: str = launch["stderr_path"]
        self.timeout_seconds: float = float(launch["timeout_seconds"])
        self.kill_grace_seconds: float = float(launch["kill_grace_seconds"])
        self.pid = 0
        self.status: int | None = None
        self.stopped_because: str | None = None
        self.escalated = False
        self.stragglers = 0

    def run(self, control_dir: str) -> dict[str, Any]:
        """Run the command to its end and return the outcome record."""
        if _take_pending_sigterm():
            return _record("cancelled", "cancelled before the command started")
        try:
            out = _open_log(self.stdout_path)
            err = _open_log(self.stderr_path)
        except OSError as error:
            return _record("launch_failed", f"cannot open {error.filename}: {error.strerror}")
        stderr_start = os.fstat(err).st_size
        started_wall, started = time.time(), time.monotonic()
        try:
            self.pid = _spawn(self.command, self.environment, self.workdir, out, err)
        except _LaunchError as error:
            return _record("launch_failed", str(error))
        finally:
            os.close(out)
            os.close(err)
        _write_supervisor_file(control_dir, self.pid, started)
        self._supervise(started + self.timeout_seconds)
        ended_wall, ended = time.time(), time.monotonic()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        record = self._classify(stderr_start)
        record.update(
            start_time=utc_iso(started_wall),
            end_time=utc_iso(ended_wall),
            wall_time_seconds=round(ended - started, 6),
            cpu_time_seconds=round(usage.ru_utime + usage.ru_stime, 6),
            peak_memory_bytes=usage.ru_maxrss * 1024,
        )
        return record

    def _supervise(self, deadline: float) -> None:
        """Wait for the command, stopping it at the deadline or on SIGTERM; reap every process."""
        kill_at: float | None = None
        cleanup_until: float | None = None
        while True:
            if not self._reap():
                return
            now = time.monotonic()
            if self.status is None and self.stopped_because is None and now >= deadline:
                self._stop("timed_out")
                kill_at = now + self.kill_grace_seconds
            if kill_at is not None and now >= kill_at:
                self.escalated = self.status is None
                self._signal_tree(signal.SIGKILL)
                kill_at = None
            if self.status is not None and kill_at is None:
                # The command is over: nothing it left behind may outlive the job.
                cleanup_until = cleanup_until or now + _CLEANUP_LIMIT_SECONDS
                if now >= cleanup_until:
                    self.stragglers = len(_descendants(os.getpid()))
                    return
                self._signal_tree(signal.SIGKILL)
            wake_at = [
                t for t in (kill_at, deadline if self.status is None else None) if t is not None
            ]
            timeout = min(wake_at) - now if wake_at else None
            if cleanup_until is not None:
                timeout = _CLEANUP_POLL_SECONDS
            received = _wait_signal(timeout)
            if received == signal.SIGTERM and self.status is None and self.stopped_because is None:
                self._stop("cancelled")
                kill_at = time.monotonic() + self.kill_grace_seconds

    def _reap(self) -> bool:
        """Reap every exited child; return False once no child is left."""
        while True:
            try:
                pid, status, _ = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return True
            if pid == self.pid:
                self.status = status

    def _stop(self, reason: str) -> None:
        self.stopped_because = reason
        self._signal_tree(signal.SIGTERM)

    def _signal_tree(self, signum: int) -> None:
        """Signal the command's process group and every other descendant of the supervisor."""
        _send(os.killpg, self.pid, signum)
        for pid in _descendants(os.getpid()):
            _send(os.kill, pid, signum)

    def _classify(self, stderr_start: int) -> dict[str, Any]:
        status = self.status if self.status is not None else 0
        exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        signum = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        if self.stopped_because is not None:
            kind = self.stopped_because
            message = (
                f"timed out after {self.timeout_seconds:g} s"
                if kind == "timed_out"
                else "cancelled"
            )
            if self.escalated:
                message += f"; killed after a {self.kill_grace_seconds:g} s grace"
        elif exit_code in _SHELL_FAILURES:
            kind = "launch_failed"
            message = f"{_SHELL_FAILURES[exit_code]} (exit code {exit_code})"
            detail = _last_line(self.stderr_path, stderr_start)
            if detail:
                message += f": {detail}"
        elif signum is not None:
            kind, message = "signalled", f"killed by signal {signum}"
        else:
            kind, message = "exited", f"exit code {exit_code}"
        if self.stragglers:
            message += f"; {self.stragglers} process(es) could not be killed"
        return _record(kind, message, exit_code=exit_code, signal=signum)


def _send(kill: Callable[[int, int], None], target: int, signum: int) -> bool:
    """Send ``signum`` to ``target``; False if it is gone or not ours (a setuid program)."""
    try:
        kill(target, signum)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _wait_signal(timeout: float | None) -> int | None:
    """Wait for SIGTERM or SIGCHLD (both blocked) and return which arrived, None on timeout."""
    watched = {signal.SIGTERM, signal.SIGCHLD}
    if timeout is None:
        return signal.sigwaitinfo(watched).si_signo
    info = signal.sigtimedwait(watched, max(timeout, 0.0))
    return None if info is None else info.si_signo


def _take_pending_sigterm() -> bool:
    if signal.SIGTERM not in signal.sigpending():
        return False
    signal.sigtimedwait({signal.SIGTERM}, 0)
    return True


def _open_log(path: str) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)


def _last_line(path: str, start: int) -> str:
    """The last non-empty line the job wrote to ``path`` after offset ``start``, shortened."""
    try:
        with open(path, "rb") as log:
            log.seek(max(start, os.fstat(log.fileno()).st_size - 512))
            tail = log.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def _record(kind: str, message: str, **fields: Any) -> dict[str, Any]:
    return {"kind": kind, "message": message, **fields}


def _write_supervisor_file(control_dir: str, job_pid: int, job_started_monotonic: float) -> None:
    pid = os.getpid()
    stat = proc_stat(pid)
    facts = {
        "pid": pid,
        "start_time": stat[2] if stat else None,
        "job_pid": job_pid,
        "job_started_monotonic": job_started_monotonic,
    }
    write_json_atomic(os.path.join(control_dir, SUPERVISOR_FILE), facts, durable=False)


def main(argv: list[str]) -> int:
    """Supervise the job described in ``argv[1]/launch.json``; return the process exit code."""
    if len(argv) != 2:
        print("usage: supervisor.py CONTROL_DIR", file=sys.stderr)
        return 2
    control_dir = os.path.abspath(argv[1])
    # Blocked signals queue up for sigtimedwait: no handler can run between two checks.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGCHLD})
    os.chdir("/")
    _become_subreaper()
    try:
        with open(os.path.join(control_dir, LAUNCH_FILE), "rb") as launch_file:
            job = _Job(json.load(launch_file))
    except (OSError, ValueError, KeyError, TypeError) as error:
        record = _record("launch_failed", f"unreadable launch description: {error!r}")
    else:
        try:
            record = job.run(control_dir)
        except Exception as error:
            if job.pid:
                job._signal_tree(signal.SIGKILL)
            record = _record("lost", f"supervisor failed: {error!r}")
    write_json_atomic(os.path.join(control_dir, OUTCOME_FILE), record)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
