"""Fixtures for job tests: a gateway on each executor, and an SDK client for it.

Every test that uses the ``gateway`` (or ``client``) fixture runs once per executor: ``local``
with a known capacity, and ``slurm`` on the test cluster (skipped, saying why, when there is
none). ``@pytest.mark.executors("local")`` restricts a test to the executors named.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

import deepseek_api as ds
from deepseek_server.app import Gateway
from deepseek_server.config import Settings
from deepseek_server.executors.slurm import job_name
from deepseek_server.storage import installation_id
from tests.support import CPUS, cancel_slurm_jobs, slurm_conf

EXECUTORS = ("local", "slurm")
# Short, so that tests see Slurm's state changes quickly.
SLURM_POLL_SECONDS = 0.2


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test that needs a gateway once per executor (or per executor it names)."""
    if "executor_kind" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("executors")
        kinds = marker.args if marker else EXECUTORS
        metafunc.parametrize("executor_kind", kinds)


@pytest.fixture
async def gateway(
    settings_for: Callable[..., Settings], executor_kind: str
) -> AsyncIterator[Gateway]:
    """A started gateway: the local executor offering ``CPUS`` CPUs, or the Slurm cluster."""
    if executor_kind == "slurm":
        settings = settings_for(
            executor={"kind": "slurm"},
            slurm={"slurm_conf": slurm_conf(), "poll_interval_seconds": SLURM_POLL_SECONDS},
        )
    else:
        settings = settings_for(executor={"cpus": CPUS, "memory_gb": 8})
    started = Gateway(settings)
    await started.start()
    installation = await installation_id(started.store)
    yield started
    await started.stop(grace=0)
    if executor_kind == "slurm":
        # Jobs outlive the gateway by design; the next test needs the cluster to itself.
        await asyncio.to_thread(cancel_slurm_jobs, job_name(installation, ""))


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[ds.AsyncDeepSeekClient]:
    """An SDK client of the test gateway."""
    async with ds.AsyncDeepSeekClient(gateway.address) as connected:
        yield connected
