"""What the audit log costs: create-and-submit throughput with audit on, beside audit off.

One run starts gateways in processes of their own (authentication off, quotas unlimited, the
executor on one CPU so that queued jobs pile up), alternately with ``audit.enabled`` true (the
default: ``sync`` mode, every call's record committed before its response) and false, and drives
each with C CreateJob(submit = true) calls in flight from a separate process: the load role of
``scripts/bench/submit.py``. The figure is the ratio of the medians; the target is >= 0.85.

Run: ``.venv/bin/python scripts/bench/audit.py [--rounds N] [--seconds S] [--concurrency C]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET = 0.85
SUBMIT = Path(__file__).with_name("submit.py")
SERVING_TIMEOUT_SECONDS = 30.0


def start_gateway(
    root: Path, name: str, audit: bool, mode: str
) -> tuple[subprocess.Popen[bytes], int]:
    """A gateway on fresh state; returns the process and its port."""
    state = root / name
    state.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPSEEK")}
    env.update(
        {
            "DEEPSEEK__SERVER__PORT": "0",
            "DEEPSEEK__SERVER__GRACE_PERIOD_SECONDS": "1",
            "DEEPSEEK__STORAGE__STATE_DIR": str(state),
            "DEEPSEEK__EXECUTOR__CPUS": "1",
            "DEEPSEEK__AUTH__REQUIRED": "false",
            "DEEPSEEK__ACCOUNTS__CONCURRENT_JOBS": "-1",
            "DEEPSEEK__ACCOUNTS__NODES": "-1",
            "DEEPSEEK__ACCOUNTS__GPUS": "-1",
            "DEEPSEEK__ACCOUNTS__MONTHLY_BUDGET": "-1",
            "DEEPSEEK__AUDIT__ENABLED": "true" if audit else "false",
            "DEEPSEEK__AUDIT__MODE": mode,
        }
    )
    log = root / f"{name}.log"
    with log.open("ab") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "deepseek_server"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    deadline = time.monotonic() + SERVING_TIMEOUT_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("{") and json.loads(line).get("message") == "gateway serving":
                return process, int(json.loads(line)["port"])
        time.sleep(0.05)
    stop(process)
    raise RuntimeError(f"gateway {name} did not serve:\n{log.read_text()[-2000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def drive(port: int, pid: int, arguments: argparse.Namespace) -> dict[str, Any]:
    """Run submit.py's load role (CreateJob with submit) against a gateway; its JSON result."""
    options = [
        "--role", "load", "--target", "create", "--address", f"127.0.0.1:{port}",
        "--server-pid", str(pid), "--seconds", str(arguments.seconds),
        "--warmup", str(arguments.warmup), "--concurrency", str(arguments.concurrency),
        "--channels", str(arguments.channels),
    ]  # fmt: skip
    done = subprocess.run(
        [sys.executable, str(SUBMIT), *options],
        capture_output=True,
        timeout=arguments.seconds + arguments.warmup + 60,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return result


def measure(root: Path, name: str, audit: bool, arguments: argparse.Namespace) -> float:
    """Jobs/s of one gateway; prints the line."""
    process, port = start_gateway(root, name, audit, arguments.mode)
    try:
        result = drive(port, process.pid, arguments)
    finally:
        stop(process)
    rate = result["items"] / result["seconds"] if result["seconds"] else 0.0
    cpu_us = result["server_cpu_seconds"] / result["items"] * 1e6 if result["items"] else 0.0
    print(
        f"  audit {'on ' if audit else 'off'}: {rate:8,.0f} jobs/s  ({result['calls']:,} calls,"
        f" {result['errors']:,} errors, server CPU {cpu_us:,.0f} us/job)",
        flush=True,
    )
    if result["first_error"]:
        print(f"    first error: {result['first_error']}")
    return rate


def main() -> int:
    """Alternate audit off / on for the rounds; print the medians and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3, help="off/on pairs")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before measuring")
    parser.add_argument("--concurrency", type=int, default=64, help="calls in flight")
    parser.add_argument("--channels", type=int, default=2, help="client connections")
    parser.add_argument("--mode", choices=("sync", "async"), default="sync", help="audit mode")
    arguments = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    rates: dict[bool, list[float]] = {False: [], True: []}
    try:
        print(
            f"{os.cpu_count()} CPU(s); CreateJob(submit=true), {arguments.concurrency} in flight,"
            f" audit mode {arguments.mode}; {arguments.rounds} rounds of off then on"
        )
        for round_ in range(arguments.rounds):
            for audit in (False, True):
                name = f"{'on' if audit else 'off'}-{round_}"
                rates[audit].append(measure(root, name, audit, arguments))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    off, on = statistics.median(rates[False]), statistics.median(rates[True])
    ratio = on / off if off else 0.0
    print(
        f"\nmedian audit on {on:,.0f} jobs/s, off {off:,.0f} jobs/s: ratio {ratio:.2f}"
        f" (target >= {TARGET})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
