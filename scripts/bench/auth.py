"""What authentication costs: create-and-submit throughput with tokens, beside the same without.

One run starts gateways in processes of their own, alternately with ``auth.required = false``
(every call is the local user; no token check, no rate limiting) and with tokens required (a
registered client, one token issued by IssueToken, ``authorization: Bearer`` on every call,
per-client rate limiting on with limits too high to refuse anything). A separate load process
keeps C CreateJob(submit = true) calls in flight against each. The executor may use one CPU, so
the queued jobs pile up instead of hundreds of supervisors fighting for the cores. The figure is
the ratio of the medians of the rounds; the target is at least 0.9.

Run: ``.venv/bin/python scripts/bench/auth.py [--seconds N] [--rounds R] [--concurrency C]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

from deepseek.hpc.v1 import auth_pb2, auth_pb2_grpc, common_pb2, job_pb2, job_pb2_grpc

TARGET = 0.9
START_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Window:
    """What the load process completed within its measured window."""

    jobs: int
    errors: int
    seconds: float
    server_cpu_seconds: float
    first_error: str

    @property
    def per_second(self) -> float:
        """Jobs created and submitted per second."""
        return self.jobs / self.seconds

    @property
    def server_cpu_us(self) -> float:
        """Gateway CPU per job, in microseconds."""
        return self.server_cpu_seconds / self.jobs * 1e6 if self.jobs else 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(arguments: argparse.Namespace) -> Window:
    """The ``load`` role: C CreateJob(submit=true) calls in flight; count the measured window."""
    channels = [
        grpc.aio.insecure_channel(
            arguments.address, options=[("grpc.use_local_subchannel_pool", 1)]
        )
        for _ in range(arguments.channels)
    ]
    try:
        await asyncio.gather(*(asyncio.wait_for(c.channel_ready(), 30) for c in channels))
        metadata: tuple[tuple[str, str], ...] = ()
        if arguments.client_id:
            issued = await auth_pb2_grpc.AuthServiceStub(channels[0]).IssueToken(
                auth_pb2.IssueTokenRequest(
                    grant_type="client_credentials",
                    client_id=arguments.client_id,
                    client_secret=arguments.client_secret,
                )
            )
            metadata = (("authorization", f"Bearer {issued.access_token}"),)
        stubs = [job_pb2_grpc.JobServiceStub(channel) for channel in channels]
        spec = job_pb2.JobSpec(
            job_name="bench",
            command="true",
            resource_spec=common_pb2.ResourceSpec(nodes=1, cpus_per_node=1),
        )
        done, errors, first_error, stopping = 0, 0, "", False

        async def worker(index: int) -> None:
            nonlocal done, errors, first_error
            sequence = 0
            while not stopping:
                request = job_pb2.CreateJobRequest(
                    spec=spec, submit=True, request_id=f"a{os.getpid()}-{index}-{sequence}"
                )
                try:
                    await stubs[index % len(stubs)].CreateJob(request, metadata=metadata)
                    done += 1
                except grpc.aio.AioRpcError as error:
                    errors += 1
                    first_error = first_error or f"{error.code().name}: {error.details()}"
                sequence += 1

        workers = [asyncio.create_task(worker(i)) for i in range(arguments.concurrency)]
        await asyncio.sleep(arguments.warmup)
        before, failed_before = done, errors
        started, server_before = time.perf_counter(), cpu_seconds(arguments.server_pid)
        await asyncio.sleep(arguments.seconds)
        after, failed_after = done, errors
        elapsed, server_after = time.perf_counter() - started, cpu_seconds(arguments.server_pid)
        stopping = True
        await asyncio.wait_for(asyncio.gather(*workers), 30)
    finally:
        await asyncio.gather(*(channel.close() for channel in channels))
    return Window(
        after - before,
        failed_after - failed_before,
        elapsed,
        server_after - server_before,
        first_error,
    )


def gateway_environment(state: Path, required: bool) -> dict[str, str]:
    """The environment of a gateway (and of the CLI on its state) for one measurement."""
    from deepseek_server.config import describe_settings

    known = {name for name, _, _ in describe_settings()}
    wanted = {
        "server.port": "0",
        "server.grace_period_seconds": "1",
        "storage.state_dir": str(state),
        "executor.cpus": "1",
        "logging.level": "INFO",
        "auth.required": "true" if required else "false",
        # Measured, never refusing: the limiter runs on every call but allows them all.
        "auth.requests_per_second": "1000000000",
        "auth.burst": "1000000000",
        # Thousands of queued jobs must not hit the default per-user quotas.
        "accounts.concurrent_jobs": "-1",
        "accounts.nodes": "-1",
        "accounts.gpus": "-1",
        "accounts.monthly_budget": "-1",
    }
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DEEPSEEK")}
    environ.update(
        {
            "DEEPSEEK__" + name.upper().replace(".", "__"): value
            for name, value in wanted.items()
            if name in known
        }
    )
    return environ


def register_client(environ: dict[str, str]) -> tuple[str, str]:
    """``deepseek-server clients create`` on the gateway's state; its id and secret."""
    output = subprocess.run(
        [sys.executable, "-m", "deepseek_server", "clients", "create", "--user", "bench",
         "--scopes", "compute:read", "compute:write"],
        env=environ, capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    found = dict(re.findall(r"^(client_id|client_secret):\s+(\S+)$", output, re.MULTILINE))
    return found["client_id"], found["client_secret"]


@contextlib.contextmanager
def gateway(state: Path, environ: dict[str, str]) -> Any:
    """A gateway process; yields it and its port, and stops it (SIGTERM) at the end."""
    log = state.with_suffix(".log")
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "deepseek_server"],
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        yield process, wait_for_port(process, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        kill_jobs_under(state)


def wait_for_port(process: subprocess.Popen[bytes], log: Path) -> int:
    """The port of the gateway's ``gateway serving`` log line."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        for line in log.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError, KeyError):
                record = json.loads(line)
                if record.get("message") == "gateway serving":
                    return int(record["port"])
        time.sleep(0.05)
    raise RuntimeError(f"the gateway did not start:\n{log.read_text(errors='replace')[-2000:]}")


def kill_jobs_under(root: Path) -> None:
    """SIGKILL job supervisors left behind (their command lines name a path under ``root``)."""
    marker = os.fsencode(root)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                if marker in (entry / "cmdline").read_bytes():
                    os.kill(int(entry.name), signal.SIGKILL)


def measure(root: Path, arguments: argparse.Namespace, required: bool, round_: int) -> Window:
    """One window against a fresh gateway, with or without authentication."""
    state = root / f"{'auth' if required else 'open'}-{round_}"
    environ = gateway_environment(state, required)
    credentials = register_client(environ) if required else ("", "")
    with gateway(state, environ) as (process, port):
        options = [
            "--role", "load", "--address", f"127.0.0.1:{port}", "--server-pid", str(process.pid),
            "--seconds", str(arguments.seconds), "--warmup", str(arguments.warmup),
            "--concurrency", str(arguments.concurrency), "--channels", str(arguments.channels),
            "--client-id", credentials[0], "--client-secret", credentials[1],
        ]  # fmt: skip
        result = subprocess.run(
            [sys.executable, __file__, *options],
            capture_output=True, text=True, check=False,
            timeout=arguments.seconds + arguments.warmup + 90,
        )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"the load process failed:\n{result.stderr[-2000:]}")
    window = Window(**json.loads(result.stdout.strip().splitlines()[-1]))
    label = "tokens required " if required else "auth.required=false"
    print(
        f"  round {round_ + 1} {label:19s} {window.per_second:8,.0f} jobs/s"
        f"  ({window.jobs:,} jobs, {window.errors:,} errors,"
        f" gateway CPU {window.server_cpu_us:,.0f} us/job)",
        flush=True,
    )
    if window.first_error:
        print(f"    first error: {window.first_error}")
    if not window.jobs:
        raise RuntimeError("no call succeeded")
    return window


def orchestrate(arguments: argparse.Namespace) -> int:
    """Alternate open and authenticated gateways; print each window, the medians and the ratio."""
    root = Path(tempfile.mkdtemp(prefix="bench-auth-"))
    print(
        f"{os.cpu_count()} CPU(s); CreateJob(submit=true), {arguments.concurrency} in flight over"
        f" {arguments.channels} channel(s) from a separate process;"
        f" {arguments.warmup:g} s warm-up + {arguments.seconds:g} s per window",
        flush=True,
    )
    try:
        windows: dict[bool, list[Window]] = {False: [], True: []}
        for round_ in range(arguments.rounds):
            # ABBA order, so that a drift in the machine's load falls on both sides alike.
            for required in (False, True) if round_ % 2 == 0 else (True, False):
                windows[required].append(measure(root, arguments, required, round_))
    finally:
        kill_jobs_under(root)
        shutil.rmtree(root, ignore_errors=True)
    baseline = statistics.median(w.per_second for w in windows[False])
    authenticated = statistics.median(w.per_second for w in windows[True])
    cpu_open = statistics.median(w.server_cpu_us for w in windows[False])
    cpu_auth = statistics.median(w.server_cpu_us for w in windows[True])
    ratio = authenticated / baseline
    verdict = "meets" if ratio >= TARGET else "MISSES"
    print(f"create+submit, authenticated : {authenticated:,.0f} jobs/s (median)")
    print(f"create+submit, auth off      : {baseline:,.0f} jobs/s (median, same run)")
    print(f"ratio                        : {ratio:.3f} ({verdict} the target >= {TARGET})")
    print(
        f"gateway CPU per job          : {cpu_auth:,.0f} us authenticated, {cpu_open:,.0f} us"
        f" auth off ({cpu_auth / cpu_open - 1:+.1%}; less sensitive to a busy machine)"
    )
    return 0 if ratio >= TARGET else 1


def parse_arguments() -> argparse.Namespace:
    """Options of the orchestrator and of the load role."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add = parser.add_argument
    add("--seconds", type=float, default=5.0, help="measured seconds per window")
    add("--warmup", type=float, default=1.0, help="seconds of load before measuring")
    add("--rounds", type=int, default=4, help="windows of each kind, alternated ABBA")
    add("--concurrency", type=int, default=64, help="CreateJob calls in flight")
    add("--channels", type=int, default=2, help="client channels (connections)")
    add("--role", default="main", help=argparse.SUPPRESS)
    add("--address", default="", help=argparse.SUPPRESS)
    add("--server-pid", type=int, default=0, help=argparse.SUPPRESS)
    add("--client-id", default="", help=argparse.SUPPRESS)
    add("--client-secret", default="", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> int:
    """Run the orchestrator, or the load role it starts."""
    arguments = parse_arguments()
    if arguments.role == "load":
        print(json.dumps(asdict(asyncio.run(load(arguments)))), flush=True)
        return 0
    return orchestrate(arguments)


if __name__ == "__main__":
    sys.exit(main())
