"""A gateway killed with SIGKILL mid-job loses nothing and runs nothing twice."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import deepseek_api as ds
from tests.support import eventually, gateway_process, spec

EXECUTOR = {
    "DEEPSEEK__EXECUTOR__CPUS": "2",
    "DEEPSEEK__EXECUTOR__KILL_GRACE_SECONDS": "1",
}


async def test_kill_9_mid_job_then_restart_records_every_true_outcome_once(
    tmp_path: Path,
) -> None:
    state_dir = tmp_path / "var"
    marks = tmp_path / "marks"
    marks.mkdir()

    def waits_for(gate: str, then: str) -> str:
        wait = f"while [ ! -e {marks}/{gate} ]; do sleep 0.05; done"
        return f"echo run >> {marks}/{gate}.runs; {wait}; {then}"

    async with gateway_process(state_dir, **EXECUTOR) as (process, address):
        async with ds.AsyncDeepSeekClient(address) as client:
            adopted = await client.create_job(spec(waits_for("a", "echo a-done")), submit=True)
            ended_meanwhile = await client.create_job(spec(waits_for("b", "exit 4")), submit=True)
            queued = await client.create_job(spec(f"echo run >> {marks}/c.runs"), submit=True)
            never_submitted = await client.create_job(spec("true"))
            await eventually(
                lambda: (marks / "a.runs").exists() and (marks / "b.runs").exists(),
                "both gated jobs started",
            )
            await queued.refresh()
            assert queued.status == "QUEUED"
        process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.wait, 30)

    (marks / "b").touch()
    outcome = state_dir / "jobs" / ended_meanwhile.id / "control" / "outcome.json"
    await eventually(outcome.exists, "the job ended while the gateway was down")

    async with (
        gateway_process(state_dir, **EXECUTOR) as (_, address),
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
