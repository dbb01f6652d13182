"""The local executor runs real processes: outcomes, limits, cancellation, GPUs and adoption."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import shlex
import signal
import sys
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest

from deepseek_server.executors import (
    ExecutorUnavailable,
    GpuType,
    LaunchRequest,
    LocalExecutor,
    OutcomeKind,
    Resources,
)
from deepseek_server.executors.supervisor import proc_stat

GRACE_SECONDS = 1.0
PYTHON = shlex.quote(sys.executable)
SERVER_DIR = Path(__file__).resolve().parents[3] / "server"


@pytest.fixture
async def executor() -> AsyncIterator[LocalExecutor]:
    """A local executor with a kill grace of one second."""
    local = LocalExecutor(cpus=2, memory_gb=4, kill_grace_seconds=GRACE_SECONDS)
    yield local
    await local.close()


def make_request(
    root: Path,
    command: str,
    *,
    timeout_seconds: int = 60,
    environment: Mapping[str, str] | None = None,
    gpus: int = 0,
) -> LaunchRequest:
    """A request whose files all live under ``root`` (the working directory is created)."""
    workdir = root / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    return LaunchRequest(
        job_id=root.name,
        command=command,
        environment={"PATH": "/usr/local/bin:/usr/bin:/bin", **(environment or {})},
        workdir=workdir,
        stdout_path=root / "stdout",
        stderr_path=root / "stderr",
        control_dir=root / "control",
        timeout_seconds=timeout_seconds,
        resources=Resources(gpus_per_node=gpus),
    )


def make_fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


async def read_fifo(path: Path) -> str:
    """Wait until a writer has written to the FIFO and closed it; return what it wrote."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    loop = asyncio.get_running_loop()
    closed: asyncio.Future[None] = loop.create_future()
    chunks: list[bytes] = []

    def on_readable() -> None:
        data = os.read(fd, 65536)
        if data:
            chunks.append(data)
        elif not closed.done():
            closed.set_result(None)

    loop.add_reader(fd, on_readable)
    try:
        await asyncio.wait_for(closed, 10)
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    return b"".join(chunks).decode()


def is_alive(pid: int) -> bool:
    """Whether ``pid`` names a process that has not exited (a zombie counts as exited)."""
    stat = proc_stat(pid)
    return stat is not None and stat[0] != "Z"


async def test_command_runs_to_completion_with_its_output(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    request = make_request(tmp_path / "ok", "echo hello; echo oops >&2; pwd")

    outcome = await asyncio.wait_for(executor.wait(request, await executor.launch(request)), 10)

    assert (outcome.kind, outcome.exit_code, outcome.signal) == (OutcomeKind.EXITED, 0, None)
    assert request.stdout_path.read_text() == f"hello\n{request.workdir}\n"
    assert request.stderr_path.read_text() == "oops\n"
    assert outcome.start_time is not None
    assert outcome.end_time is not None
    assert outcome.start_time <= outcome.end_time
    assert 0 < outcome.wall_time_seconds < 5


async def test_nonzero_exit_code_is_reported(executor: LocalExecutor, tmp_path: Path) -> None:
    request = make_request(tmp_path / "three", "exit 3")

    outcome = await asyncio.wait_for(executor.wait(request, await executor.launch(request)), 10)

    assert (outcome.kind, outcome.exit_code) == (OutcomeKind.EXITED, 3)


async def test_unknown_command_is_a_launch_failure(executor: LocalExecutor, tmp_path: Path) -> None:
    request = make_request(tmp_path / "missing", "no-such-command-anywhere --flag")

    outcome = await asyncio.wait_for(executor.wait(request, await executor.launch(request)), 10)

    assert (outcome.kind, outcome.exit_code) == (OutcomeKind.LAUNCH_FAILED, 127)
    assert outcome.message.startswith("command not found (exit code 127)")
    assert "no-such-command-anywhere" in outcome.message


async def test_command_that_is_not_executable_is_a_launch_failure(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    request = make_request(tmp_path / "noexec", "./data.txt")
    (request.workdir / "data.txt").write_text("not a program\n")

    outcome = await asyncio.wait_for(executor.wait(request, await executor.launch(request)), 10)

    assert (outcome.kind, outcome.exit_code) == (OutcomeKind.LAUNCH_FAILED, 126)
    assert outcome.message.startswith("permission denied (exit code 126)")


async def test_missing_workdir_is_a_launch_failure(executor: LocalExecutor, tmp_path: Path) -> None:
    request = make_request(tmp_path / "nowd", "touch ran")
    request.workdir.rmdir()

    outcome = await asyncio.wait_for(executor.wait(request, await executor.launch(request)), 10)

    assert outcome.kind is OutcomeKind.LAUNCH_FAILED
    assert outcome.message == f"chdir to {request.workdir}: No such file or directory"
    assert outcome.exit_code is None


async def test_environment_is_exactly_the_requested_one(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    command = 'printf "%s|%s|[%s]" "$GREETING" "${HOME-unset}" "${CUDA_VISIBLE_DEVICES-unset}"'
    request = make_request(tmp_path / "env", command, environment={"GREETING": "hi there"})

    outcome = await asyncio.wait_for(executor.wait(request, await executor.launch(request)), 10)

    assert outcome.kind is OutcomeKind.EXITED
    # Nothing of the gateway's environment leaks; a job without GPUs sees none.
    assert request.stdout_path.read_text() == "hi there|unset|[]"


async def test_many_concurrent_jobs_all_run(executor: LocalExecutor, tmp_path: Path) -> None:
    requests = [make_request(tmp_path / f"many-{index}", f"echo {index}") for index in range(24)]

    async def run(request: LaunchRequest) -> OutcomeKind:
        # Waiting at once: the supervisor may still be inside execve.
        return (await executor.wait(request, await executor.launch(request))).kind

    kinds = await asyncio.wait_for(asyncio.gather(*map(run, requests)), 30)

    assert kinds == [OutcomeKind.EXITED] * len(requests)
    assert [request.stdout_path.read_text() for request in requests] == [
        f"{index}\n" for index in range(len(requests))
    ]


async def test_timeout_ends_the_job_and_its_processes(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    request = make_request(tmp_path / "slow", "echo $$ > pid; exec sleep 30", timeout_seconds=1)

    started = time.monotonic()
    outcome = await asyncio.wait_for(executor.wait(request, await executor.launch(request)), 10)
    elapsed = time.monotonic() - started

    assert outcome.kind is OutcomeKind.TIMED_OUT
    assert (outcome.signal, outcome.message) == (signal.SIGTERM, "timed out after 1 s")
    assert 1.0 <= outcome.wall_time_seconds < 1.0 + GRACE_SECONDS
    assert elapsed < 1.0 + GRACE_SECONDS + 1.0
    assert not is_alive(int((request.workdir / "pid").read_text()))


@pytest.mark.parametrize(
    "spawn_child",
    [
        pytest.param("sleep 300 &", id="background-child"),
        pytest.param("setsid sleep 300 &", id="new-session-child"),
    ],
)
async def test_cancel_ends_the_whole_process_tree(
    executor: LocalExecutor, tmp_path: Path, spawn_child: str
) -> None:
    ready = make_fifo(tmp_path / "ready")
    command = f"{spawn_child} child=$!; sleep 300 & echo $$ $child $! > {ready}; wait"
    request = make_request(tmp_path / "tree", command)
    job_id = await executor.launch(request)
    waiting = asyncio.create_task(executor.wait(request, job_id))

    pids = [int(pid) for pid in (await read_fifo(ready)).split()]
    assert all(is_alive(pid) for pid in pids)
    await executor.cancel(request, job_id)
    outcome = await asyncio.wait_for(waiting, 10)

    assert (outcome.kind, outcome.message) == (OutcomeKind.CANCELLED, "cancelled")
    assert [pid for pid in pids if is_alive(pid)] == []


async def test_job_ignoring_sigterm_is_killed_after_the_grace(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    ready = make_fifo(tmp_path / "ready")
    command = f"trap '' TERM; echo $$ > {ready}; while :; do sleep 0.1; done"
    request = make_request(tmp_path / "stubborn", command)
    job_id = await executor.launch(request)
    waiting = asyncio.create_task(executor.wait(request, job_id))

    shell = int(await read_fifo(ready))
    cancelled_at = time.monotonic()
    await executor.cancel(request, job_id)
    outcome = await asyncio.wait_for(waiting, 10)

    assert (outcome.kind, outcome.signal) == (OutcomeKind.CANCELLED, signal.SIGKILL)
    assert outcome.message == "cancelled; killed after a 1 s grace"
    assert time.monotonic() - cancelled_at >= GRACE_SECONDS
    assert not is_alive(shell)


def gated_python(directory: Path) -> tuple[Path, Path]:
    """An interpreter that waits for a line on a FIFO before it becomes the real one.

    Given to the executor as ``python``, it holds each supervisor before start-up: a test can
    then act at a moment when the supervisor has not started yet, without racing it.
    """
    gate = make_fifo(directory / "gate")
    python = directory / "gated-python"
    python.write_text(
        f"#!{sys.executable} -IS\n"
        "import os, sys\n"
        f"with open({str(gate)!r}) as gate:\n"
        "    gate.readline()\n"
        f"os.execv({sys.executable!r}, [{sys.executable!r}, *sys.argv[1:]])\n"
    )
    python.chmod(0o755)
    return python, gate


async def test_cancel_before_the_supervisor_starts_still_cancels(tmp_path: Path) -> None:
    python, gate = gated_python(tmp_path)
    executor = LocalExecutor(python=str(python), kill_grace_seconds=GRACE_SECONDS)
    request = make_request(tmp_path / "early", "touch ran; sleep 300")

    job_id = await executor.launch(request)
    await executor.cancel(request, job_id)
    gate_fd = os.open(gate, os.O_RDWR)
    os.write(gate_fd, b"go\n")
    outcome = await asyncio.wait_for(executor.wait(request, job_id), 10)
    os.close(gate_fd)
    await executor.close()

    assert outcome.kind is OutcomeKind.CANCELLED
    assert outcome.message == "cancelled before the command started"
    assert not (request.workdir / "ran").exists()


def _child_for(control_dir: Path) -> int | None:
    """The pid of this process's child started for ``control_dir``, if there is one yet."""
    wanted = str(control_dir.absolute()).encode()
    for entry in os.listdir("/proc"):
        stat = proc_stat(int(entry)) if entry.isdigit() else None
        if stat is not None and stat[1] == os.getpid():
            with contextlib.suppress(OSError):
                if wanted in Path(f"/proc/{entry}/cmdline").read_bytes():
                    return int(entry)
    return None


async def _child_running(control_dir: Path) -> int:
    """Wait for :func:`_child_for` to find the child (polled: no event exists for it)."""
    while (pid := _child_for(control_dir)) is None:  # noqa: ASYNC110 - no event to wait on
        await asyncio.sleep(0.01)
    return pid


async def test_cancelled_launch_does_not_leave_a_job_running(tmp_path: Path) -> None:
    python, gate = gated_python(tmp_path)
    executor = LocalExecutor(python=str(python), kill_grace_seconds=GRACE_SECONDS)
    request = make_request(tmp_path / "abandoned", "touch ran; sleep 300")
    launching = asyncio.create_task(executor.launch(request))
    await asyncio.sleep(0)  # Let the launch start its spawning thread.

    launching.cancel()
    with pytest.raises(asyncio.CancelledError):
        await launching
    abandoned = await asyncio.wait_for(_child_running(request.control_dir), 10)
    gate_fd = os.open(gate, os.O_RDWR)
    os.write(gate_fd, b"go\n")
    # Wait (without reaping) until the abandoned supervisor has exited.
    await asyncio.wait_for(
        asyncio.to_thread(os.waitid, os.P_PID, abandoned, os.WEXITED | os.WNOWAIT), 10
    )
    os.close(gate_fd)
    await executor.close()  # Reaps it.

    outcome = json.loads((request.control_dir / "outcome.json").read_text())
    assert (outcome["kind"], outcome["message"]) == (
        "cancelled",
        "cancelled before the command started",
    )
    assert not (request.workdir / "ran").exists()


async def test_cancel_is_idempotent_and_ignores_ended_or_unknown_jobs(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    request = make_request(tmp_path / "twice", "sleep 300")
    job_id = await executor.launch(request)

    await executor.cancel(request, job_id)
    await executor.cancel(request, job_id)
    outcome = await asyncio.wait_for(executor.wait(request, job_id), 10)
    await executor.cancel(request, job_id)
    await executor.cancel(request, "not-an-id")
    await executor.cancel(request, f"{os.getpid()}:1")

    assert outcome.kind is OutcomeKind.CANCELLED


async def test_gpus_are_assigned_disjointly_and_reused(tmp_path: Path) -> None:
    executor = LocalExecutor(gpus=2, gpu_type=GpuType.H100)
    show = 'printf %s "$CUDA_VISIBLE_DEVICES"'
    first = make_request(tmp_path / "first", show, gpus=1)
    second = make_request(tmp_path / "second", show, gpus=1)
    both = make_request(tmp_path / "both", show, gpus=2)

    first_id = await executor.launch(first)
    second_id = await executor.launch(second)
    with pytest.raises(ValueError, match="1 GPU"):
        await executor.launch(make_request(tmp_path / "third", show, gpus=1))
    await asyncio.wait_for(executor.wait(first, first_id), 10)
    await asyncio.wait_for(executor.wait(second, second_id), 10)
    await asyncio.wait_for(executor.wait(both, await executor.launch(both)), 10)
    await executor.close()

    seen = {first.stdout_path.read_text(), second.stdout_path.read_text()}
    assert seen == {"0", "1"}
    assert both.stdout_path.read_text() == "0,1"


async def test_adopted_job_keeps_its_gpus_until_it_ends(tmp_path: Path) -> None:
    gate = make_fifo(tmp_path / "gate")
    request = make_request(tmp_path / "held", f"read line < {gate}", gpus=1)
    before_restart = LocalExecutor(gpus=1)
    job_id = await before_restart.launch(request)
    await before_restart.close()
    after_restart = LocalExecutor(gpus=1)

    waiting = asyncio.create_task(after_restart.wait(request, job_id))
    await asyncio.sleep(0)  # Let wait() adopt the job: it claims the GPU before its first await.
    with pytest.raises(ValueError, match="0 free"):
        await after_restart.launch(make_request(tmp_path / "other", "true", gpus=1))
    gate_fd = os.open(gate, os.O_RDWR)
    os.write(gate_fd, b"go\n")
    outcome = await asyncio.wait_for(waiting, 10)
    os.close(gate_fd)
    other = make_request(tmp_path / "after", 'printf %s "$CUDA_VISIBLE_DEVICES"', gpus=1)
    await asyncio.wait_for(after_restart.wait(other, await after_restart.launch(other)), 10)
    await after_restart.close()

    assert outcome.kind is OutcomeKind.EXITED
    assert other.stdout_path.read_text() == "0"


async def test_new_executor_instance_adopts_a_running_job(tmp_path: Path) -> None:
    gate = make_fifo(tmp_path / "gate")
    request = make_request(tmp_path / "adopted", f'read line < {gate}; echo "got $line"; exit 5')
    first = LocalExecutor()
    job_id = await first.launch(request)
    pending = asyncio.create_task(first.wait(request, job_id))
    await asyncio.sleep(0)  # Let the wait start watching the supervisor.
    await first.close()
    with pytest.raises(ExecutorUnavailable):
        await asyncio.wait_for(pending, 10)

    second = LocalExecutor()
    waiting = asyncio.create_task(second.wait(request, job_id))
    await asyncio.sleep(0)
    assert not waiting.done()
    gate_fd = os.open(gate, os.O_RDWR)
    os.write(gate_fd, b"go\n")
    outcome = await asyncio.wait_for(waiting, 10)
    os.close(gate_fd)
    await second.close()

    assert (outcome.kind, outcome.exit_code) == (OutcomeKind.EXITED, 5)
    assert request.stdout_path.read_text() == "got go\n"


_CRASHING_GATEWAY = """
import asyncio, os, signal, sys
from pathlib import Path
from deepseek_server.executors import LaunchRequest, LocalExecutor
root = Path(sys.argv[1])
request = LaunchRequest(
    job_id=root.name, command=sys.argv[2], environment={"PATH": "/usr/bin:/bin"},
    workdir=root / "work", stdout_path=root / "stdout", stderr_path=root / "stderr",
    control_dir=root / "control", timeout_seconds=60,
)
async def main() -> None:
    print(await LocalExecutor().launch(request), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
asyncio.run(main())
"""


async def test_job_survives_a_gateway_killed_with_sigkill(tmp_path: Path) -> None:
    gate = make_fifo(tmp_path / "gate")
    request = make_request(tmp_path / "survivor", f'read line < {gate}; echo "got $line"')
    gateway = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CRASHING_GATEWAY,
        str(tmp_path / "survivor"),
        request.command,
        stdout=asyncio.subprocess.PIPE,
        env={"PYTHONPATH": str(SERVER_DIR)},
    )
    printed, _ = await asyncio.wait_for(gateway.communicate(), 10)
    assert gateway.returncode == -signal.SIGKILL
    job_id = printed.decode().strip()
    supervisor_pid = int(job_id.split(":")[0])

    stat = proc_stat(supervisor_pid)
    assert stat is not None
    assert stat[1] != os.getpid()  # Not our child: orphaned when the gateway died.
    gate_fd = os.open(gate, os.O_RDWR)
    os.write(gate_fd, b"go\n")
    restarted = LocalExecutor()
    outcome = await asyncio.wait_for(restarted.wait(request, job_id), 10)
    os.close(gate_fd)
    await restarted.close()

    assert (outcome.kind, outcome.exit_code) == (OutcomeKind.EXITED, 0)
    assert request.stdout_path.read_text() == "got go\n"


async def test_killed_supervisor_makes_the_job_lost(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    ready = make_fifo(tmp_path / "ready")
    request = make_request(tmp_path / "orphan", f"echo $$ > {ready}; exec sleep 300")
    job_id = await executor.launch(request)
    waiting = asyncio.create_task(executor.wait(request, job_id))
    job_pid = int(await read_fifo(ready))

    os.kill(int(job_id.split(":")[0]), signal.SIGKILL)
    outcome = await asyncio.wait_for(waiting, 10)

    assert outcome.kind is OutcomeKind.LOST
    assert outcome.message == "the supervisor ended without recording an outcome"
    # Without its supervisor the job runs on, unwatched: the gateway reports it lost, and it
    # is the operator's to kill (as here).
    assert is_alive(job_pid)
    os.kill(job_pid, signal.SIGKILL)


async def test_unknown_job_is_lost(executor: LocalExecutor, tmp_path: Path) -> None:
    request = make_request(tmp_path / "ghost", "true")

    outcome = await asyncio.wait_for(executor.wait(request, f"{os.getpid()}:1"), 10)

    assert outcome.kind is OutcomeKind.LOST


async def test_unreadable_outcome_is_lost(executor: LocalExecutor, tmp_path: Path) -> None:
    request = make_request(tmp_path / "garbled", "true")
    request.control_dir.mkdir()
    (request.control_dir / "outcome.json").write_text('{"kind": "exploded"}')

    outcome = await executor.wait(request, "not-an-id")

    assert outcome.kind is OutcomeKind.LOST
    assert "unreadable outcome" in outcome.message
    assert "exploded" in outcome.message


async def test_cpu_time_of_the_job_is_measured(executor: LocalExecutor, tmp_path: Path) -> None:
    burn = "import time\nend = time.process_time() + 0.5\nwhile time.process_time() < end: pass"
    request = make_request(tmp_path / "burn", f"{PYTHON} -c {shlex.quote(burn)}")

    outcome = await asyncio.wait_for(executor.wait(request, await executor.launch(request)), 20)

    assert outcome.kind is OutcomeKind.EXITED
    assert outcome.cpu_time_seconds >= 0.3
    assert outcome.wall_time_seconds >= outcome.cpu_time_seconds * 0.9


async def test_peak_memory_of_the_job_is_measured(executor: LocalExecutor, tmp_path: Path) -> None:
    allocate = "block = b'x' * (110 * 1024 * 1024)"
    # In a grandchild, to show the whole tree counts and not just the shell.
    request = make_request(tmp_path / "memory", f"{PYTHON} -c {shlex.quote(allocate)}; true")

    outcome = await asyncio.wait_for(executor.wait(request, await executor.launch(request)), 20)

    assert outcome.kind is OutcomeKind.EXITED
    assert outcome.peak_memory_bytes >= 100 * 1024 * 1024


async def test_launch_description_is_in_the_control_dir(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    request = make_request(tmp_path / "described", "true", timeout_seconds=0)

    job_id = await executor.launch(request)
    await asyncio.wait_for(executor.wait(request, job_id), 10)

    launch = json.loads((request.control_dir / "launch.json").read_text())
    assert launch["command"] == "true"
    assert launch["timeout_seconds"] == 30 * 86400  # 0 means the longest allowed.
    assert launch["gpu_indices"] == []
    supervisor = json.loads((request.control_dir / "supervisor.json").read_text())
    assert f"{supervisor['pid']}:{supervisor['start_time']}" == job_id


async def test_closed_executor_refuses_work(tmp_path: Path) -> None:
    executor = LocalExecutor()
    await executor.close()
    request = make_request(tmp_path / "late", "true")

    with pytest.raises(ExecutorUnavailable):
        await executor.launch(request)
    with pytest.raises(ExecutorUnavailable):
        await executor.wait(request, "1:1")


async def test_multi_node_job_is_refused(executor: LocalExecutor, tmp_path: Path) -> None:
    request = dataclasses.replace(
        make_request(tmp_path / "wide", "true"), resources=Resources(nodes=2)
    )

    with pytest.raises(ValueError, match="1 node"):
        await executor.launch(request)


def test_capabilities_describe_this_machine() -> None:
    executor = LocalExecutor(gpus=4, gpu_type=GpuType.H100, max_timeout_seconds=3600)

    capabilities = executor.capabilities()

    assert (executor.name, capabilities.executor, capabilities.queues_itself) == (
        "local",
        "local",
        False,
    )
    (partition,) = capabilities.partitions
    assert (partition.name, partition.max_nodes) == ("local", 1)
    assert partition.cpus_per_node == os.cpu_count()
    meminfo_kib = int(Path("/proc/meminfo").read_text().split()[1])
    assert partition.memory_gb_per_node == meminfo_kib // (1024 * 1024)
    assert (partition.gpus_per_node, partition.gpu_types) == (4, (GpuType.H100,))
    assert partition.max_timeout_seconds == 3600


async def test_a_job_whose_id_was_never_recorded_is_found_from_its_control_directory(
    tmp_path: Path,
) -> None:
    request = make_request(tmp_path, "echo found")
    launcher = LocalExecutor()
    executor_job_id = await launcher.launch(request)
    await launcher.close()

    outcome = await LocalExecutor().wait(request, "")

    assert executor_job_id
    assert (outcome.kind, outcome.exit_code) == (OutcomeKind.EXITED, 0)
    assert request.stdout_path.read_text() == "found\n"
