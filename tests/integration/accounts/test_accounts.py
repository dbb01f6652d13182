"""Quotas enforced exactly, billing by the second, budgets with holds, quota alerts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc.aio
import pytest

import deepseek_api as ds
from deepseek.hpc.v1 import account_pb2, account_pb2_grpc
from deepseek_server import cli
from deepseek_server.accounts.model import QuotaKind
from deepseek_server.app import Gateway
from deepseek_server.config import Settings
from deepseek_server.jobs.model import JobSpec
from deepseek_server.jobs.service import CreateRequest
from tests.support import eventually, spec


@pytest.fixture
async def started(
    settings_for: Callable[..., Settings], request: pytest.FixtureRequest
) -> AsyncIterator[Gateway]:
    accounts = getattr(request, "param", {})
    gateway = Gateway(
        settings_for(executor={"cpus": 8, "memory_gb": 16, "gpus": 2}, accounts=accounts)
    )
    await gateway.start()
    yield gateway
    await gateway.stop(grace=0)


async def _cancel_all(client: ds.AsyncDeepSeekClient, jobs: list[ds.AsyncJob]) -> None:
    for job in jobs:
        await client.cancel_job(job.id)
    for job in jobs:
        await job.wait(timeout=30)


@pytest.mark.parametrize("started", [{"concurrent_jobs": 50}], indirect=True)
async def test_200_concurrent_submissions_against_a_quota_of_50_accept_exactly_50(
    started: Gateway, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    async with ds.AsyncDeepSeekClient(started.address) as client:
        outcomes = await asyncio.gather(
            *(
                client.create_job(spec(f"while [ ! -e {gate} ]; do sleep 0.1; done"), submit=True)
                for _ in range(200)
            ),
            return_exceptions=True,
        )
        accepted = [o for o in outcomes if isinstance(o, ds.AsyncJob)]
        refused = [o for o in outcomes if isinstance(o, ds.ResourceExhausted)]
        gate.touch()
        for job in accepted:
            await job.wait(timeout=60)

    assert (len(accepted), len(refused)) == (50, 150)
    violation = refused[0].quota_violations[0]
    assert violation.subject == "user:local/concurrent_jobs"
    assert violation.description == "limit 50, in use 50, this job needs 1"
    assert refused[0].reason == "QUOTA_EXCEEDED"


async def _next_alert(call: object) -> account_pb2.QuotaAlert:
    message = await call.read()  # type: ignore[attr-defined]
    assert isinstance(message, account_pb2.WatchQuotaAlertsResponse)
    return message.alert


PRICES = {
    "price_core_second": 3,
    "price_memory_gb_second": 2,
    "price_a100_second": 50,
    "currency": "CNY",
}


@pytest.mark.parametrize("started", [PRICES], indirect=True)
async def test_a_job_is_billed_its_allocation_times_its_seconds_exactly(
    started: Gateway,
) -> None:
    job_spec = {
        **spec("sleep 3", cpus=4),
        "resource_spec": {"nodes": 1, "cpus_per_node": 4, "gpus_per_node": 1, "memory_gb": 2},
    }
    async with (
        ds.AsyncDeepSeekClient(started.address) as client,
        grpc.aio.insecure_channel(started.address) as channel,
    ):
        job = await (await client.create_job(job_spec, submit=True)).wait(timeout=30)
        usage = await account_pb2_grpc.AccountServiceStub(channel).GetUsage(
            account_pb2.GetUsageRequest()
        )

    expected = 3 * (4 * 3 + 2 * 2 + 1 * 50)
    assert job.status == "COMPLETED"
    assert job.cost == ds.Amount("CNY", expected)
    (line,) = usage.lines
    assert (line.job_id, line.wall_seconds, line.core_seconds, line.memory_gb_seconds) == (
        job.id,
        3,
        12,
        6,
    )
    assert [(g.seconds) for g in line.gpu_seconds] == [3]
    assert (usage.total_cost.currency_code, usage.total_cost.minor_units) == ("CNY", expected)


@pytest.mark.parametrize(
    "started", [{"monthly_budget": 1000, "price_core_second": 1}], indirect=True
)
async def test_the_budget_refuses_a_job_that_could_exceed_it_until_a_hold_is_released(
    started: Gateway, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    waiting = spec(f"while [ ! -e {gate} ]; do sleep 0.05; done", timeout=600)
    async with (
        ds.AsyncDeepSeekClient(started.address) as client,
        grpc.aio.insecure_channel(started.address) as channel,
    ):
        accounts = account_pb2_grpc.AccountServiceStub(channel)
        first = await client.create_job(waiting, submit=True)
        estimate = await accounts.EstimateJobCost(
            account_pb2.EstimateJobCostRequest(spec=first.spec)
        )
        with pytest.raises(ds.ResourceExhausted) as refused:
            await client.create_job(waiting, submit=True)
        await client.cancel_job(first.id)
        await first.wait(timeout=30)
        second = await client.create_job(spec("true", timeout=600), submit=True)
        await second.wait(timeout=30)

    assert (estimate.max_cost.minor_units, estimate.remaining_budget.minor_units) == (600, 400)
    assert not estimate.within_budget
    assert refused.value.quota_violations[0].subject == "user:local/monthly_budget"
    assert "limit 1000, in use 600, this job needs 600" in str(refused.value.quota_violations)
    assert first.status == "CANCELLED"
    assert first.cost is not None
    assert first.cost.minor_units <= 1  # billed the seconds it ran: well under one
    assert second.status == "COMPLETED"


@pytest.mark.parametrize("started", [{"concurrent_jobs": 5}], indirect=True)
async def test_alerts_at_80_and_100_percent_and_back_as_jobs_come_and_go(
    started: Gateway, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    holding = spec(f"while [ ! -e {gate} ]; do sleep 0.05; done")
    async with (
        ds.AsyncDeepSeekClient(started.address) as client,
        grpc.aio.insecure_channel(started.address) as channel,
    ):
        accounts = account_pb2_grpc.AccountServiceStub(channel)
        watch = accounts.WatchQuotaAlerts(
            account_pb2.WatchQuotaAlertsRequest(kinds=[account_pb2.QUOTA_KIND_CONCURRENT_JOBS])
        )
        jobs = [await client.create_job(holding, submit=True) for _ in range(5)]
        up = [await _next_alert(watch) for _ in range(2)]
        rewatch = accounts.WatchQuotaAlerts(account_pb2.WatchQuotaAlertsRequest())
        snapshot = await _next_alert(rewatch)
        rewatch.cancel()
        await _cancel_all(client, jobs[:1])
        await _cancel_all(client, jobs[1:2])
        down = [await _next_alert(watch) for _ in range(2)]
        watch.cancel()
        gate.touch()
        for job in jobs:
            await job.wait(timeout=30)

    assert [(a.threshold_percent, a.direction, a.usage, a.limit) for a in up] == [
        (80, account_pb2.QUOTA_ALERT_DIRECTION_UP, 4, 5),
        (100, account_pb2.QUOTA_ALERT_DIRECTION_UP, 5, 5),
    ]
    assert (snapshot.snapshot, snapshot.threshold_percent, snapshot.usage) == (True, 100, 5)
    assert [(a.threshold_percent, a.direction, a.usage) for a in down] == [
        (100, account_pb2.QUOTA_ALERT_DIRECTION_DOWN, 4),
        (80, account_pb2.QUOTA_ALERT_DIRECTION_DOWN, 3),
    ]


async def test_quota_shows_limits_usage_and_overrides(started: Gateway) -> None:
    await started.accounts.set_overrides("local", {QuotaKind.GPUS: 4})
    async with grpc.aio.insecure_channel(started.address) as channel:
        accounts = account_pb2_grpc.AccountServiceStub(channel)
        quota = (await accounts.GetQuota(account_pb2.GetQuotaRequest())).quota
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await accounts.GetQuota(account_pb2.GetQuotaRequest(user_id="someone-else"))
        with pytest.raises(grpc.aio.AioRpcError) as not_admin:
            await accounts.UpdateQuota(
                account_pb2.UpdateQuotaRequest(
                    user_id="local",
                    overrides=[account_pb2.QuotaOverride(kind=account_pb2.QUOTA_KIND_GPUS)],
                )
            )

    limits = {account_pb2.QuotaKind.Name(q.kind): (q.limit, q.overridden) for q in quota.limits}
    assert limits["QUOTA_KIND_CONCURRENT_JOBS"] == (50, False)
    assert limits["QUOTA_KIND_GPUS"] == (4, True)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert not_admin.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_one_users_usage_never_appears_in_anothers(started: Gateway) -> None:
    jobs = started.jobs
    alice = await jobs.create_one(
        "alice", CreateRequest(JobSpec("a", "true", cpus_per_node=2), submit=True)
    )
    bob = await jobs.create_one("bob", CreateRequest(JobSpec("b", "sleep 1"), submit=True))
    alice_quota = {s.kind: s.usage for s in started.accounts.standing("alice")}
    bob_quota = {s.kind: s.usage for s in started.accounts.standing("bob")}
    for owner, job in (("alice", alice), ("bob", bob)):
        _ = [item async for item in jobs.watch(owner, [job.id], 0)]  # ends when the job does
    alice_usage = await started.accounts.usage("alice", None, None, 100, "")
    bob_usage = await started.accounts.usage("bob", None, None, 100, "")
    async with ds.AsyncDeepSeekClient(started.address) as client:
        with pytest.raises(ds.NotFound):
            await client.get_job(alice.id)  # the local user is neither alice nor bob

    assert alice_quota[QuotaKind.CONCURRENT_JOBS] == 1
    assert bob_quota[QuotaKind.CONCURRENT_JOBS] == 1
    assert started.accounts.standing("carol")[0].usage == 0
    assert [c.job_id for c in alice_usage.charges] == [alice.id]
    assert [c.job_id for c in bob_usage.charges] == [bob.id]


async def test_the_storage_quota_is_one_limit_for_uploads_and_the_quota_report(
    started: Gateway, tmp_path: Path
) -> None:
    small, large = tmp_path / "small.bin", tmp_path / "large.bin"
    small.write_bytes(b"x" * 100)
    large.write_bytes(b"y" * 1000)
    await started.accounts.set_overrides("local", {QuotaKind.STORAGE_BYTES: 500})
    async with (
        ds.AsyncDeepSeekClient(started.address) as client,
        grpc.aio.insecure_channel(started.address) as channel,
    ):
        await client.create_dataset("inputs")
        await client.upload_to_dataset("inputs", [small])
        with pytest.raises(ds.ResourceExhausted) as refused:
            await client.upload_to_dataset("inputs", [large])
        quota = (
            await account_pb2_grpc.AccountServiceStub(channel).GetQuota(
                account_pb2.GetQuotaRequest()
            )
        ).quota

    storage = next(q for q in quota.limits if q.kind == account_pb2.QUOTA_KIND_STORAGE_BYTES)
    assert (storage.limit, storage.usage, storage.overridden) == (500, 100, True)
    assert refused.value.quota_violations[0].subject == "user:local/storage_bytes"


async def test_a_quota_set_from_the_command_line_reaches_the_running_gateway(
    started: Gateway, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DEEPSEEK__STORAGE__STATE_DIR", str(started.settings.storage.state_dir))
    gate = tmp_path / "gate"
    holding = spec(f"while [ ! -e {gate} ]; do sleep 0.05; done")

    code = await asyncio.to_thread(
        cli.main, ["quotas", "set", "--user", "local", "--concurrent-jobs", "1"]
    )
    # Applied at the gateway's next poll of the overrides (about a second).
    await eventually(
        lambda: started.accounts.limit("local", QuotaKind.CONCURRENT_JOBS) == 1,
        "the override reached the running gateway",
        seconds=10,
    )
    async with ds.AsyncDeepSeekClient(started.address) as client:
        first = await client.create_job(holding, submit=True)
        with pytest.raises(ds.ResourceExhausted):
            await client.create_job(holding, submit=True)
        gate.touch()
        await first.wait(timeout=30)

    assert code == 0
