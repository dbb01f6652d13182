"""Quotas, usage, cost estimates, quota alerts and the audit log through the SDK, against a
real gateway."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import pytest

import deepseek_api as ds
from deepseek_server.app import Gateway
from deepseek_server.config import Settings
from tests.support import spec


@pytest.fixture
async def gateway(settings_for: Callable[..., Settings]) -> AsyncIterator[Gateway]:
    """A gateway allowing one active job per user."""
    started = Gateway(
        settings_for(executor={"cpus": 2, "memory_gb": 8}, accounts={"concurrent_jobs": 1})
    )
    await started.start()
    yield started
    await started.stop(grace=0)


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[ds.AsyncDeepSeekClient]:
    """An async SDK client of the gateway."""
    async with ds.AsyncDeepSeekClient(gateway.address) as connected:
        yield connected


async def test_a_full_quota_shows_in_the_quota_and_as_an_alert(
    client: ds.AsyncDeepSeekClient,
) -> None:
    job = await client.create_job(spec("sleep 30"), submit=True)
    try:
        quota = await client.get_quota()
        async with contextlib.aclosing(client.watch_quota_alerts(["CONCURRENT_JOBS"])) as alerts:
            alert = await anext(alerts)
        with pytest.raises(ds.ResourceExhausted) as refused:
            await client.create_job(spec("true"), submit=True)
    finally:
        await job.cancel()

    assert quota["CONCURRENT_JOBS"] == ds.QuotaLimit("CONCURRENT_JOBS", 1, 1, "jobs", False)
    assert (alert.kind, alert.threshold_percent, alert.direction) == ("CONCURRENT_JOBS", 100, "UP")
    assert alert.snapshot
    assert refused.value.quota_violations


async def test_a_finished_job_is_billed_in_usage_as_its_estimate_bounds(
    client: ds.AsyncDeepSeekClient,
) -> None:
    job_spec = spec("true", timeout=60)
    estimate = await client.estimate_job_cost(job_spec)
    job = await client.create_job(job_spec, submit=True)
    await job.wait(timeout=30)

    usage = await client.get_usage()

    assert estimate.within_budget
    assert estimate.max_cost.currency_code == "CNY"
    assert estimate.max_cost.minor_units >= 60
    lines = {line.job_id: line for line in usage.lines}
    assert lines[job.id].cost == job.cost
    assert usage.total_cost.minor_units == sum(line.cost.minor_units for line in usage.lines)


async def test_the_audit_log_lists_watches_and_verifies(client: ds.AsyncDeepSeekClient) -> None:
    job = await client.create_job(spec("true"))

    created = [r async for r in client.list_audit_records(action="job.create")]
    async with contextlib.aclosing(client.watch_audit_records(0)) as records:
        first = await anext(records)
        second = await anext(records)
    verification = await client.verify_audit_chain()

    assert [r.resource_id for r in created] == [job.id]
    assert created[0].status == "OK"
    assert (first.sequence, second.sequence) == (1, 2)
    assert second.prev_hash == first.hash
    assert verification.ok
    assert verification.records_checked >= 2
