"""A gateway on Slurm that is killed (-9) or stops between sbatch and recording the job's id
loses nothing and submits nothing twice."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import deepseek_api as ds
from deepseek_server.app import Gateway
from deepseek_server.config import Settings
from deepseek_server.executors.slurm import job_name
from deepseek_server.storage import installation_id, open_store
from tests.support import (
    cancel_slurm_jobs,
    eventually,
    gateway_process,
    slurm_conf,
    slurm_environment,
    spec,
)


def slurm_gateway(
    state_dir: Path,
) -> AbstractAsyncContextManager[tuple[subprocess.Popen[str], str]]:
    """A gateway process on the test cluster, polling it often."""
    return gateway_process(
        state_dir,
        DEEPSEEK__EXECUTOR__KIND="slurm",
        DEEPSEEK__SLURM__SLURM_CONF=slurm_conf(),
        DEEPSEEK__SLURM__POLL_INTERVAL_SECONDS="0.2",
    )


def slurm_jobs_named(name: str) -> list[str]:
    """Ids of every Slurm job with this name, pending, running or ended (squeue + sacct -c)."""
    found = set()
    for command in (
        ["squeue", "--me", "--noheader", "--states=all", "-o", "%i|%j"],
        ["sacct", "--completion", "--parsable2", "--noheader", "-o", "JobID,JobName"],
    ):
        listed = subprocess.run(
            command, env=slurm_environment(), capture_output=True, text=True, check=True
        )
        found |= {
            job_id
            for job_id, _, job in (line.partition("|") for line in listed.stdout.splitlines())
            if job == name
        }
    return sorted(found)


async def test_kill_9_then_restart_records_every_true_outcome_and_submits_nothing_twice(
    tmp_path: Path,
) -> None:
    state_dir = tmp_path / "var"
    marks = tmp_path / "marks"
    marks.mkdir()

    def waits_for(gate: str, mark: str, then: str) -> str:
        wait = f"while [ ! -e {marks}/{gate} ]; do sleep 0.05; done"
        return f"echo run >> {marks}/{mark}.runs; {wait}; {then}"

    async with slurm_gateway(state_dir) as (process, address):
        async with ds.AsyncDeepSeekClient(address) as client:
            done = await client.create_job(spec(f"echo run >> {marks}/done.runs"), submit=True)
            succeeds = await client.create_job(spec(waits_for("a", "ok", "echo ok")), submit=True)
            fails = await client.create_job(spec(waits_for("a", "fail", "exit 3")), submit=True)
            after_ok = await client.create_job(
                spec(f"echo run >> {marks}/after_ok.runs", dependencies=[succeeds.id]),
                submit=True,
            )
            after_fail = await client.create_job(
                spec(f"echo run >> {marks}/after_fail.runs", dependencies=[fails.id]),
                submit=True,
            )
            running = await client.create_job(
                spec(waits_for("b", "running", "echo still")), submit=True
            )
            await done.wait(timeout=60)
            await eventually(
                lambda: all((marks / f"{m}.runs").exists() for m in ("ok", "fail", "running")),
                "the gated jobs started",
            )
            installation = await _installation(state_dir)
            # The dependents are handed to Slurm too, which holds them (afterok).
            names = [job_name(installation, job.id) for job in (after_ok, after_fail)]
            await eventually(lambda: all(map(slurm_jobs_named, names)), "dependents handed over")
        process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.wait, 30)

    (marks / "a").touch()
    # While the gateway is down, Slurm runs the gated jobs to their end and the dependents after.
    await eventually(lambda: (marks / "after_ok.runs").exists(), "after_ok ran")

    try:
        async with (
            slurm_gateway(state_dir) as (_, address),
            ds.AsyncDeepSeekClient(address) as client,
        ):
            (marks / "b").touch()
            jobs = {
                job.id: await (await client.get_job(job.id)).wait(timeout=60)
                for job in (done, succeeds, fails, after_ok, after_fail, running)
            }
            running_out = b"".join([c async for c in client.read_logs(running.id)])
    finally:
        await asyncio.to_thread(cancel_slurm_jobs, job_name(installation, ""))

    def seen(job: ds.AsyncJob) -> tuple[str, str | None, int | None]:
        ended = jobs[job.id]
        return ended.status, ended.state_reason, ended.exit_code

    assert seen(done) == ("COMPLETED", None, 0)
    assert seen(succeeds) == ("COMPLETED", None, 0)
    assert seen(fails) == ("FAILED", "NON_ZERO_EXIT", 3)
    assert seen(after_ok) == ("COMPLETED", None, 0)
    assert seen(after_fail)[:2] == ("FAILED", "DEPENDENCY_FAILED")
    assert jobs[after_fail.id].start_time is None
    assert seen(running) == ("COMPLETED", None, 0)
    assert running_out == b"still\n"
    for mark in ("done", "ok", "fail", "after_ok", "running"):
        assert (marks / f"{mark}.runs").read_text() == "run\n", f"{mark} ran more than once"
    assert not (marks / "after_fail.runs").exists()
    for job in (done, succeeds, fails, after_ok, after_fail, running):
        assert len(slurm_jobs_named(job_name(installation, job.id))) == 1, job.id


async def test_a_job_submitted_but_not_recorded_before_a_stop_is_adopted_not_resubmitted(
    slurm_settings: Settings,
) -> None:
    gateway = Gateway(slurm_settings)
    await gateway.start()
    try:
        async with ds.AsyncDeepSeekClient(gateway.address) as client:
            # Held by the gateway (its dependency is not even submitted): never handed to Slurm.
            held_by = await client.create_job(spec("true"))
            job = await client.create_job(
                spec("echo from-the-first-run", dependencies=[held_by.id]), submit=True
            )
        installation = await installation_id(gateway.store)
    finally:
        await gateway.stop(grace=0)
    name = job_name(installation, job.id)
    stdout = slurm_settings.storage.jobs_dir / job.id / "stdout.log"
    stdout.parent.mkdir(parents=True)
    # What a gateway that crashed right after sbatch returned would leave behind.
    submitted = (
        await asyncio.to_thread(
            subprocess.run,
            ["sbatch", "--parsable", f"--job-name={name}", f"--output={stdout}", "--export=NONE"],
            input="#!/bin/sh\necho from-the-first-run\n",
            env=slurm_environment(),
            capture_output=True,
            text=True,
            check=True,
        )
    ).stdout.strip()

    restarted = Gateway(slurm_settings)
    await restarted.start()
    try:
        async with ds.AsyncDeepSeekClient(restarted.address) as client:
            ended = await (await client.get_job(job.id)).wait(timeout=60)
            output = b"".join([c async for c in client.read_logs(job.id)])
    finally:
        await restarted.stop(grace=0)
        await asyncio.to_thread(cancel_slurm_jobs, job_name(installation, ""))

    assert (ended.status, ended.exit_code) == ("COMPLETED", 0)
    assert output == b"from-the-first-run\n"
    assert slurm_jobs_named(name) == [submitted]


async def _installation(state_dir: Path) -> str:
    store = await open_store(state_dir / "gateway.db")
    try:
        return await installation_id(store)
    finally:
        await store.close()
