"""How fast 1,000 jobs reach Slurm through the gateway, beside a sequential sbatch loop.

One run, on the cluster ``SLURM_CONF`` names (else ``build/slurm``, from ``scripts/slurm-cluster
start``), measures:

1. baseline: a loop that runs ``sbatch`` once per job, one after another, N trivial jobs;
2. gateway: one BatchCreateJobs call of N jobs (submit = true) to a gateway in a process of its
   own with the Slurm executor, until every job is in Slurm (its name listed by squeue).

Both print jobs per second; the ratio gateway / baseline is the figure (target: at least 1).
Between and after the runs every job is cancelled, so that the cluster is left empty.

Run: ``.venv/bin/python scripts/bench/slurm_submit.py [--jobs N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import deepseek_api as ds

REPO = Path(__file__).resolve().parents[2]
JOB_NAME_PREFIX = "dsg-"
BASELINE_NAME = "bench-sbatch-loop"
DRAIN_TIMEOUT_SECONDS = 300.0


def slurm_environment() -> dict[str, str]:
    """The environment of the Slurm commands: the cluster's SLURM_CONF."""
    default = REPO / "build" / "slurm" / "slurm.conf"
    return {**os.environ, "SLURM_CONF": os.environ.get("SLURM_CONF", str(default))}


def slurm(*args: str, stdin: str | None = None) -> str:
    """Run a Slurm command; its standard output."""
    done = subprocess.run(
        list(args),
        input=stdin,
        env=slurm_environment(),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout


def listed_names() -> list[str]:
    """Names of every job of this user that the controller knows, ended ones included."""
    return slurm("squeue", "--me", "--noheader", "--states=all", "-o", "%j").split()


def cancel_all_and_wait() -> None:
    """Cancel every pending or running job of this user and wait until none is left."""
    ids = slurm("squeue", "--me", "--noheader", "-o", "%i").split()
    if ids:
        slurm("scancel", *ids)
    deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
    while slurm("squeue", "--me", "--noheader", "-o", "%i").split():
        if time.monotonic() > deadline:
            raise SystemExit("the cluster did not drain; see squeue")
        time.sleep(0.5)


def sbatch_loop(jobs: int, workdir: Path) -> float:
    """Submit ``jobs`` trivial jobs with one sbatch each, in sequence; jobs per second."""
    began = time.perf_counter()
    for _ in range(jobs):
        slurm(
            "sbatch",
            "--parsable",
            f"--job-name={BASELINE_NAME}",
            "--export=NONE",
            f"--chdir={workdir}",
            "--output=/dev/null",
            "--time=1",
            stdin="#!/bin/sh\ntrue\n",
        )
    return jobs / (time.perf_counter() - began)


def start_gateway(state_dir: Path, extra: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """A gateway process with the Slurm executor; returns it and its address once serving."""
    environ = {k: v for k, v in slurm_environment().items() if not k.startswith("DEEPSEEK")}
    environ.update(
        DEEPSEEK__SERVER__PORT="0",
        DEEPSEEK__STORAGE__STATE_DIR=str(state_dir),
        DEEPSEEK__EXECUTOR__KIND="slurm",
        DEEPSEEK__SLURM__SLURM_CONF=environ["SLURM_CONF"],
        DEEPSEEK__AUTH__REQUIRED="false",
        DEEPSEEK__ACCOUNTS__CONCURRENT_JOBS="-1",
    )
    environ.update(extra)
    process = subprocess.Popen(
        [sys.executable, "-m", "deepseek_server"],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    lines = iter(process.stderr)
    for line in lines:
        if line.startswith("{") and json.loads(line).get("message") == "gateway serving":
            threading.Thread(target=collections.deque, args=(lines, 0), daemon=True).start()
            return process, str(json.loads(line)["address"])
        if line.startswith("{") and json.loads(line).get("level") == "ERROR":
            print(line, end="", file=sys.stderr)
    raise SystemExit(f"the gateway exited with {process.wait()} before serving")


def installation_prefix(state_dir: Path) -> str:
    """The Slurm job-name prefix of the gateway's jobs."""
    with sqlite3.connect(state_dir / "gateway.db") as database:
        (value,) = database.execute(
            "SELECT value FROM gateway_meta WHERE key = 'installation_id'"
        ).fetchone()
    return f"{JOB_NAME_PREFIX}{str(value)[:16]}-"


async def through_gateway(address: str, prefix: str, jobs: int) -> float:
    """One BatchCreateJobs of ``jobs`` jobs; jobs per second until all are in Slurm."""
    spec = {"job_name": "bench", "resource_spec": {"nodes": 1}, "command": "true", "timeout": 60}
    async with ds.AsyncDeepSeekClient(address) as client:
        began = time.perf_counter()
        results = await client.batch_create_jobs([spec] * jobs, submit=True)
        refused = [r for r in results if not isinstance(r, ds.AsyncJob)]
        if refused:
            raise SystemExit(f"{len(refused)} jobs refused, e.g. {refused[0]}")
        while True:
            names = await asyncio.to_thread(listed_names)
            if sum(name.startswith(prefix) for name in names) >= jobs:
                return jobs / (time.perf_counter() - began)
            await asyncio.sleep(0.05)


def main() -> None:
    """Measure both rates in one run and print them with their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="VARIABLE=VALUE",
        help="a setting of the gateway, e.g. DEEPSEEK__SLURM__SUBMIT_CONCURRENCY=4",
    )
    parser.add_argument("--skip-baseline", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    extra = dict(item.split("=", 1) for item in arguments.set)
    jobs: int = arguments.jobs
    slurm("sinfo", "--noheader")  # fails early, and clearly, without a cluster
    cancel_all_and_wait()
    with tempfile.TemporaryDirectory(prefix="slurm-bench-") as scratch:
        root = Path(scratch)
        try:
            baseline = 1.0 if arguments.skip_baseline else sbatch_loop(jobs, root)
            print(f"sequential sbatch loop: {jobs} jobs, {baseline:8.1f} jobs/s", flush=True)
            cancel_all_and_wait()
            process, address = start_gateway(root / "var", extra)
            try:
                prefix = installation_prefix(root / "var")
                gateway = asyncio.run(through_gateway(address, prefix, jobs))
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)
            print(f"gateway BatchCreateJobs: {jobs} jobs, {gateway:8.1f} jobs/s", flush=True)
            print(f"ratio gateway / sbatch loop: {gateway / baseline:.2f} (target >= 1.0)")
        finally:
            cancel_all_and_wait()


if __name__ == "__main__":
    main()
