"""A gateway killed with SIGKILL mid-job loses nothing and runs nothing twice."""

from __future__ import annotations

import asyncio
import collections
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import deepseek_api as ds
from tests.support import spec


@asynccontextmanager
async def gateway_process(state_dir: Path) -> AsyncIterator[tuple[subprocess.Popen[str], str]]:
    """``python -m deepseek_server`` on a free port; yields the process and its address."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DEEPSEEK")}
    environ.update(
        DEEPSEEK__SERVER__PORT="0",
        DEEPSEEK__STORAGE__STATE_DIR=str(state_dir),
        DEEPSEEK__EXECUTOR__CPUS="2",
        DEEPSEEK__EXECUTOR__KILL_GRACE_SECONDS="1",
    )
    process = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, "-m", "deepseek_server"],
        env=environ,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        address = await asyncio.to_thread(_serving_address, process)
        yield process, address
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.wait, 30)


def _serving_address(process: subprocess.Popen[str]) -> str:
    """Read the gateway's log until it serves; a thread then keeps draining the pipe."""
    assert process.stderr is not None
    lines = iter(process.stderr)
    for line in lines:
        if line.startswith("{") and json.loads(line)["message"] == "gateway serving":
            threading.Thread(target=collections.deque, args=(lines, 0), daemon=True).start()
            return str(json.loads(line)["address"])
    raise AssertionError(f"the gateway exited with {process.wait()} before serving")


async def _eventually(condition: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(30):
        while not condition():  # noqa: ASYNC110 - files appearing have no event to wait on
            await asyncio.sleep(0.05)
    assert condition(), what


async def test_kill_9_mid_job_then_restart_records_every_true_outcome_once(
    tmp_path: Path,
) -> None:
    state_dir = tmp_path / "var"
    marks = tmp_path / "marks"
    marks.mkdir()

    def waits_for(gate: str, then: str) -> str:
        wait = f"while [ ! -e {marks}/{gate} ]; do sleep 0.05; done"
        return f"echo run >> {marks}/{gate}.runs; {wait}; {then}"

    async with gateway_process(state_dir) as (process, address):
        async with ds.AsyncDeepSeekClient(address) as client:
            adopted = await client.create_job(spec(waits_for("a", "echo a-done")), submit=True)
            ended_meanwhile = await client.create_job(spec(waits_for("b", "exit 4")), submit=True)
            queued = await client.create_job(spec(f"echo run >> {marks}/c.runs"), submit=True)
            never_submitted = await client.create_job(spec("true"))
            await _eventually(
                lambda: (marks / "a.runs").exists() and (marks / "b.runs").exists(),
                "both gated jobs started",
            )
            await queued.refresh()
            assert queued.status == "QUEUED"
        process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.wait, 30)

    (marks / "b").touch()
    outcome = state_dir / "jobs" / ended_meanwhile.id / "control" / "outcome.json"
    await _eventually(outcome.exists, "the job ended while the gateway was down")

    async with (
        gateway_process(state_dir) as (_, address),
        ds.AsyncDeepSeekClient(address) as client,
    ):
        (marks / "a").touch()
        jobs = {
            name: await (await client.get_job(job.id)).wait(timeout=30)
            for name, job in {
                "adopted": adopted,
                "ended_meanwhile": ended_meanwhile,
                "queued": queued,
            }.items()
        }
        untouched = await client.get_job(never_submitted.id)
        stdout = b"".join([c async for c in client.read_logs(adopted.id)])

    assert (jobs["adopted"].status, jobs["adopted"].exit_code) == ("COMPLETED", 0)
    assert stdout == b"a-done\n"
    assert (jobs["ended_meanwhile"].status, jobs["ended_meanwhile"].exit_code) == ("FAILED", 4)
    assert jobs["ended_meanwhile"].state_reason == "NON_ZERO_EXIT"
    assert jobs["queued"].status == "COMPLETED"
    assert untouched.status == "CREATED"
    for gate in ("a", "b", "c"):
        assert (marks / f"{gate}.runs").read_text() == "run\n", f"job {gate} ran more than once"
