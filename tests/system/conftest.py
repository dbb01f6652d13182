"""Fixtures for tests against the Slurm test cluster (``scripts/slurm-cluster start``).

Every test here needs Slurm: without a running cluster it is skipped, saying why (and fails
instead where ``DEEPSEEK_TEST_REQUIRE_SLURM`` is set, as in CI).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import deepseek_api as ds
from deepseek_server.app import Gateway
from deepseek_server.config import Settings
from deepseek_server.executors.slurm import job_name
from deepseek_server.storage import installation_id
from tests.support import cancel_slurm_jobs, slurm_conf

POLL_SECONDS = 0.2


@pytest.fixture
def slurm_settings(tmp_path: Path) -> Settings:
    """Settings of a gateway on the test cluster, state under ``tmp_path``."""
    conf = slurm_conf()
    defaults = Settings()
    return dataclasses.replace(
        defaults,
        server=dataclasses.replace(defaults.server, port=0),
        storage=dataclasses.replace(defaults.storage, state_dir=tmp_path / "var"),
        executor=dataclasses.replace(defaults.executor, kind="slurm"),
        slurm=dataclasses.replace(
            defaults.slurm, slurm_conf=conf, poll_interval_seconds=POLL_SECONDS
        ),
        auth=dataclasses.replace(defaults.auth, required=False),
    )


@pytest.fixture
async def gateway(slurm_settings: Settings) -> AsyncIterator[Gateway]:
    """A started gateway on the Slurm cluster; its jobs are cancelled afterwards."""
    started = Gateway(slurm_settings)
    await started.start()
    installation = await installation_id(started.store)
    yield started
    await started.stop(grace=0)
    await asyncio.to_thread(cancel_slurm_jobs, job_name(installation, ""))


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[ds.AsyncDeepSeekClient]:
    """An SDK client of the gateway."""
    async with ds.AsyncDeepSeekClient(gateway.address) as connected:
        yield connected
