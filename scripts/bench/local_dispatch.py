"""How fast the local executor dispatches jobs: supervisor start-up, latency, throughput.

Prints, each next to a same-run baseline:

* supervisor start-up: running the supervisor on a ``true`` job, against the bare interpreter
  (``python -I -S -c pass``) and against starting it as a package module (``-m``);
* launch latency: from calling ``launch()`` to the job's command running (``supervisor.json``),
  p50 and p99, one job at a time and under concurrency;
* throughput: ``true`` jobs launched and waited for, end to end, per second.

Run: ``PYTHONPATH=server .venv/bin/python scripts/bench/local_dispatch.py [--jobs N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from deepseek_server.executors import LaunchRequest, LocalExecutor, OutcomeKind
from deepseek_server.executors import supervisor as supervisor_module

SUPERVISOR_MODULE = "deepseek_server.executors.supervisor"
SERVER_DIR = Path(supervisor_module.__file__).resolve().parents[2]


def percentile(samples: list[float], fraction: float) -> float:
    """The sample at ``fraction`` of the sorted samples (nearest rank)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def median_run_seconds(argv: list[str], runs: int, env: dict[str, str] | None = None) -> float:
    """Median wall time of running ``argv`` to its end."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, env=env)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def write_true_job(root: Path) -> Path:
    """A control directory holding the launch description of a ``true`` job."""
    control = root / "control"
    control.mkdir(parents=True)
    launch = {
        "command": "true",
        "environment": {"PATH": "/usr/bin:/bin"},
        "workdir": str(root),
        "stdout_path": str(root / "stdout"),
        "stderr_path": str(root / "stderr"),
        "timeout_seconds": 60,
        "kill_grace_seconds": 1,
    }
    (control / supervisor_module.LAUNCH_FILE).write_text(json.dumps(launch))
    return control


def measure_start_up(root: Path, runs: int) -> None:
    """Print the supervisor's start-up time against the bare interpreter and the ``-m`` form."""
    bare = median_run_seconds([sys.executable, "-I", "-S", "-c", "pass"], runs)
    script_form: list[float] = []
    module_form: list[float] = []
    module_env = {"PYTHONPATH": str(SERVER_DIR)}
    for index in range(runs):
        control = write_true_job(root / f"script-{index}")
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-I", "-S", "-X", "utf8", supervisor_module.__file__, str(control)],
            check=True,
        )
        script_form.append(time.perf_counter() - started)
        control = write_true_job(root / f"module-{index}")
        started = time.perf_counter()
        subprocess.run(
            # The package imports the supervisor first: silence runpy's warning about it.
            [sys.executable, "-W", "ignore::RuntimeWarning", "-m", SUPERVISOR_MODULE, str(control)],
            check=True,
            env=module_env,
        )
        module_form.append(time.perf_counter() - started)
    script, module = statistics.median(script_form), statistics.median(module_form)
    print("supervisor start-up, median of", runs, "runs (a `true` job, outcome written):")
    print(f"  baseline: python -I -S -c pass          {bare * 1e3:7.1f} ms")
    print(
        f"  chosen:   python -I -S supervisor.py    {script * 1e3:7.1f} ms  ({script / bare:.2f}x)"
    )
    print(
        f"  -m deepseek_server.executors.supervisor {module * 1e3:7.1f} ms  ({module / bare:.2f}x)"
    )


def make_request(root: Path) -> LaunchRequest:
    """A ``true`` job whose files live under ``root``."""
    root.mkdir(parents=True)
    return LaunchRequest(
        job_id=root.name,
        command="true",
        environment={"PATH": "/usr/bin:/bin"},
        workdir=root,
        stdout_path=root / "stdout",
        stderr_path=root / "stderr",
        control_dir=root / "control",
        timeout_seconds=60,
    )


async def run_jobs(root: Path, jobs: int, concurrency: int) -> tuple[float, list[float]]:
    """Launch and wait for ``jobs`` ``true`` jobs, ``concurrency`` at a time.

    Returns the elapsed seconds and, per job, the seconds from calling launch() until the
    supervisor had the command running.
    """
    executor = LocalExecutor(kill_grace_seconds=1)
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(index: int) -> None:
        request = make_request(root / f"job-{index}")
        async with gate:
            launched_at = time.monotonic()
            job_id = await executor.launch(request)
            outcome = await executor.wait(request, job_id)
        if outcome.kind is not OutcomeKind.EXITED:
            raise RuntimeError(f"job {index} did not run: {outcome}")
        running = json.loads((request.control_dir / supervisor_module.SUPERVISOR_FILE).read_text())
        latencies.append(running["job_started_monotonic"] - launched_at)

    started = time.perf_counter()
    await asyncio.gather(*(one(index) for index in range(jobs)))
    elapsed = time.perf_counter() - started
    await executor.close()
    return elapsed, latencies


async def measure_dispatch(root: Path, jobs: int, concurrencies: list[int]) -> None:
    """Print throughput and launch latency for each concurrency."""
    print(f"\n{jobs} `true` jobs, launch + wait, on {os.cpu_count()} CPU(s):")
    print("  concurrency   jobs/s   launch->running p50    p99")
    baseline_rate = 0.0
    for concurrency in concurrencies:
        elapsed, latencies = await run_jobs(root / f"c{concurrency}", jobs, concurrency)
        rate = jobs / elapsed
        baseline_rate = baseline_rate or rate
        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        print(
            f"  {concurrency:11d} {rate:8.1f} ({rate / baseline_rate:4.2f}x)"
            f" {p50 * 1e3:8.1f} ms {p99 * 1e3:8.1f} ms"
        )


def main() -> None:
    """Parse arguments and print every figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=200, help="jobs per concurrency level")
    parser.add_argument("--runs", type=int, default=30, help="runs for the start-up figures")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="local-dispatch-") as scratch:
        measure_start_up(Path(scratch) / "start-up", arguments.runs)
        asyncio.run(
            measure_dispatch(Path(scratch) / "dispatch", arguments.jobs, arguments.concurrency)
        )


if __name__ == "__main__":
    main()
