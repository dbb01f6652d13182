"""Fixtures for audit tests: a gateway (audit on, the default) and raw stubs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import grpc
import grpc.aio
import pytest

from deepseek.hpc.v1 import audit_pb2_grpc, job_pb2_grpc
from deepseek_server.app import Gateway
from deepseek_server.audit import AuditRecord, RecordFilter
from deepseek_server.config import Settings


@pytest.fixture
async def gateway(settings_for: Callable[..., Settings]) -> AsyncIterator[Gateway]:
    """A started gateway, authentication off (every call is the local user)."""
    started = Gateway(settings_for(executor={"cpus": 2, "memory_gb": 8}))
    await started.start()
    yield started
    await started.stop(grace=0)


@pytest.fixture
async def channel(gateway: Gateway) -> AsyncIterator[grpc.aio.Channel]:
    """A plaintext channel to the gateway."""
    async with grpc.aio.insecure_channel(gateway.address) as opened:
        yield opened


@pytest.fixture
def jobs(channel: grpc.aio.Channel) -> job_pb2_grpc.JobServiceAsyncStub:
    """A raw JobService stub."""
    return job_pb2_grpc.JobServiceStub(channel)


@pytest.fixture
def audit(channel: grpc.aio.Channel) -> audit_pb2_grpc.AuditServiceAsyncStub:
    """A raw AuditService stub."""
    return audit_pb2_grpc.AuditServiceStub(channel)


async def all_records(gateway: Gateway) -> list[AuditRecord]:
    """Every committed record, read from the log directly."""
    return await gateway.audit.list_records(RecordFilter(), 0, 1_000_000)


def request_id(value: str) -> tuple[tuple[str, str], ...]:
    """Metadata naming the call, so that its record can be found."""
    return (("x-request-id", value),)
