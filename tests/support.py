"""Helpers shared by test modules."""

from __future__ import annotations

import asyncio
import collections
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from deepseek_server.app import Gateway
from deepseek_server.config import Settings
from deepseek_server.executors.slurm import job_name
from deepseek_server.storage import installation_id

CPUS = 2
"""CPUs the job tests' gateway offers: two 1-CPU jobs run at once, a third waits."""


def spec(command: str, **fields: object) -> dict[str, object]:
    """A job spec in the platform guide's JSON shape, 1 node and 1 CPU unless ``cpus`` says."""
    return {
        "job_name": fields.pop("job_name", "test"),
        "resource_spec": {"nodes": 1, "cpus_per_node": fields.pop("cpus", 1)},
        "command": command,
        **fields,
    }


def alive(pid: int) -> bool:
    """Whether a process with this pid exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def pids_in(path: Path) -> list[int]:
    """Process ids a job wrote to ``path``, one per line."""
    return [int(line) for line in path.read_text().split()]


REPO = Path(__file__).resolve().parents[1]
SLURM_START = "start it with scripts/slurm-cluster start"
REQUIRE_SLURM_VARIABLE = "DEEPSEEK_TEST_REQUIRE_SLURM"
"""Set (to anything) where Slurm must be present, as in CI: then its absence fails the tests."""


def slurm_conf() -> str:
    """The ``SLURM_CONF`` of a running Slurm cluster, or the test is skipped saying why.

    The cluster is the one ``SLURM_CONF`` names, else the one ``scripts/slurm-cluster`` starts
    under ``build/slurm``, else Slurm's default configuration.
    """
    reason = _slurm_missing()
    if reason:
        if os.environ.get(REQUIRE_SLURM_VARIABLE):
            pytest.fail(f"{reason} ({REQUIRE_SLURM_VARIABLE} is set)")
        pytest.skip(reason)
    return _slurm_conf_path()


def slurm_environment() -> dict[str, str]:
    """An environment for running Slurm commands against the test cluster."""
    return {**os.environ, "SLURM_CONF": _slurm_conf_path()}


def _slurm_conf_path() -> str:
    local = REPO / "build" / "slurm" / "slurm.conf"
    default = str(local) if local.exists() else "/etc/slurm/slurm.conf"
    return os.environ.get("SLURM_CONF", default)


@functools.cache
def _slurm_missing() -> str:
    if shutil.which("sinfo") is None:
        return f"Slurm is not installed (no sinfo on PATH): {SLURM_START}"
    try:
        nodes = subprocess.run(
            ["sinfo", "--noheader", "-o", "%T"],
            env=slurm_environment(),
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"Slurm is not running (sinfo timed out): {SLURM_START}"
    if nodes.returncode != 0:
        return f"Slurm is not running ({nodes.stderr.strip()}): {SLURM_START}"
    if not {"idle", "mixed", "allocated"} & set(nodes.stdout.split()):
        return f"Slurm has no usable node (states: {nodes.stdout.split()}): {SLURM_START}"
    return ""


def cancel_slurm_jobs(name_prefix: str) -> None:
    """Cancel the test cluster's jobs whose names start with ``name_prefix``."""
    listed = subprocess.run(
        ["squeue", "--me", "--noheader", "-o", "%i %j"],
        env=slurm_environment(),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    ids = [
        job_id
        for job_id, _, name in (line.partition(" ") for line in listed.stdout.splitlines())
        if name.startswith(name_prefix)
    ]
    if ids:
        subprocess.run(["scancel", *ids], env=slurm_environment(), timeout=30, check=False)


@asynccontextmanager
async def gateway_process(
    state_dir: Path, **settings: str
) -> AsyncIterator[tuple[subprocess.Popen[str], str]]:
    """``python -m deepseek_server`` on a free port, without authentication, state in
    ``state_dir``; ``settings`` are more ``DEEPSEEK__...`` variables. Yields the process and
    the address it serves on; stops it (SIGTERM) afterwards unless it is gone already."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DEEPSEEK")}
    environ.update(
        DEEPSEEK__SERVER__PORT="0",
        DEEPSEEK__STORAGE__STATE_DIR=str(state_dir),
        DEEPSEEK__AUTH__REQUIRED="false",
        **settings,
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


async def eventually(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    """Wait until ``condition()`` holds, polling (for things with no event, like files)."""
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - files appearing have no event to wait on
            await asyncio.sleep(0.05)
    assert condition(), what


EXECUTORS = ("local", "slurm")
SLURM_POLL_SECONDS = 0.2
"""Short, so that tests see Slurm's state changes quickly."""


def parametrize_executors(metafunc: pytest.Metafunc) -> None:
    """Run each test that takes ``executor_kind`` once per executor (or per executor it names
    with ``@pytest.mark.executors``); for a conftest's ``pytest_generate_tests``."""
    if "executor_kind" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("executors")
        metafunc.parametrize("executor_kind", marker.args if marker else EXECUTORS)


@asynccontextmanager
async def started_gateway(
    settings_for: Callable[..., Settings],
    executor_kind: str,
    local: dict[str, object],
    **sections: dict[str, object],
) -> AsyncIterator[Gateway]:
    """A started gateway on the local executor (with ``local`` executor settings) or on the
    Slurm test cluster; afterwards the jobs it left in Slurm are cancelled, because jobs
    outlive a gateway by design and the next test needs the cluster to itself."""
    if executor_kind == "slurm":
        slurm = {"slurm_conf": slurm_conf(), "poll_interval_seconds": SLURM_POLL_SECONDS}
        settings = settings_for(executor={"kind": "slurm"}, slurm=slurm, **sections)
    else:
        settings = settings_for(executor=local, **sections)
    gateway = Gateway(settings)
    await gateway.start()
    installation = await installation_id(gateway.store)
    try:
        yield gateway
    finally:
        await gateway.stop(grace=0)
        if executor_kind == "slurm":
            await asyncio.to_thread(cancel_slurm_jobs, job_name(installation, ""))
