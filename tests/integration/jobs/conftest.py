"""Fixtures for job tests: a gateway on each executor, and an SDK client for it.

Every test that uses the ``gateway`` (or ``client``) fixture runs once per executor: ``local``
with a known capacity, and ``slurm`` on the test cluster (skipped, saying why, when there is
none). ``@pytest.mark.executors("local")`` restricts a test to the executors named.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

import deepseek_api as ds
from deepseek_server.app import Gateway
from deepseek_server.config import Settings
from tests.support import CPUS, parametrize_executors, started_gateway

pytest_generate_tests = parametrize_executors


@pytest.fixture
async def gateway(
    settings_for: Callable[..., Settings], executor_kind: str
) -> AsyncIterator[Gateway]:
    """A started gateway: the local executor offering ``CPUS`` CPUs, or the Slurm cluster."""
    local: dict[str, object] = {"cpus": CPUS, "memory_gb": 8}
    async with started_gateway(settings_for, executor_kind, local) as gateway:
        yield gateway


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[ds.AsyncDeepSeekClient]:
    """An SDK client of the test gateway."""
    async with ds.AsyncDeepSeekClient(gateway.address) as connected:
        yield connected
