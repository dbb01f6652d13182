"""Fixtures for data tests: a gateway with small data limits, and a raw DataChunkService stub."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import grpc.aio
import pytest

import deepseek_api as ds
from deepseek.hpc.v1 import data_pb2_grpc
from deepseek_server.app import Gateway
from deepseek_server.config import Settings
from tests.integration.data.uploading import DATA_SETTINGS, Stub


@pytest.fixture
async def gateway(settings_for: Callable[..., Settings]) -> AsyncIterator[Gateway]:
    """A started gateway with 64 KiB chunks and acknowledgements, and a 2 s idle timeout."""
    started = Gateway(settings_for(data=DATA_SETTINGS, executor={"cpus": 2, "memory_gb": 8}))
    await started.start()
    yield started
    await started.stop(grace=0)


@pytest.fixture
async def stub(gateway: Gateway) -> AsyncIterator[Stub]:
    """A DataChunkService stub on its own channel to the test gateway."""
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        yield data_pb2_grpc.DataChunkServiceStub(channel)


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[ds.AsyncDeepSeekClient]:
    """An SDK client of the test gateway (for the job side)."""
    async with ds.AsyncDeepSeekClient(gateway.address) as connected:
        yield connected
