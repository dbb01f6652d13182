"""Fixtures for job tests: a gateway with a known capacity, and an SDK client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

import deepseek_api as ds
from deepseek_server.app import Gateway
from deepseek_server.config import Settings
from tests.support import CPUS


@pytest.fixture
async def gateway(settings_for: Callable[..., Settings]) -> AsyncIterator[Gateway]:
    """A started gateway whose local executor offers ``CPUS`` CPUs."""
    started = Gateway(settings_for(executor={"cpus": CPUS, "memory_gb": 8}))
    await started.start()
    yield started
    await started.stop(grace=0)


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[ds.AsyncDeepSeekClient]:
    """An SDK client of the test gateway."""
    async with ds.AsyncDeepSeekClient(gateway.address) as connected:
        yield connected
