"""AuditService with tokens: tenancy, filters, pagination, tail, verification; refused calls."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import grpc.aio
import pytest

from deepseek.hpc.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    job_pb2,
    job_pb2_grpc,
)
from deepseek_server.app import Gateway
from deepseek_server.config import Settings
from tests.integration.audit.conftest import all_records, request_id

ALL = ["compute:read", "compute:write", "audit:read", "admin"]
USER = ["compute:read", "compute:write"]
AUDITOR = ["compute:read", "audit:read"]


@pytest.fixture
async def gateway(settings_for: Callable[..., Settings]) -> AsyncIterator[Gateway]:
    """A gateway that requires tokens; checkpoints every 5 records."""
    started = Gateway(settings_for(auth={"required": True}, audit={"checkpoint_every_records": 5}))
    await started.start()
    yield started
    await started.stop(grace=0)


async def token(gateway: Gateway, channel: grpc.aio.Channel, user: str, scopes: list[str]) -> str:
    made = await gateway.identity.clients.create(user, scopes)
    response = await auth_pb2_grpc.AuthServiceStub(channel).IssueToken(
        auth_pb2.IssueTokenRequest(
            grant_type="client_credentials", client_id=made.client.id, client_secret=made.secret
        )
    )
    return response.access_token


def bearer(value: str, name: str = "") -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {value}"), *(request_id(name) if name else ()))


async def test_refused_calls_are_recorded_with_peer_and_claimed_client(
    gateway: Gateway, channel: grpc.aio.Channel
) -> None:
    jobs = job_pb2_grpc.JobServiceStub(channel)
    auth = auth_pb2_grpc.AuthServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError):
        await jobs.ListJobs(job_pb2.ListJobsRequest(), metadata=request_id("no-token"))
    with pytest.raises(grpc.aio.AioRpcError):
        await auth.IssueToken(
            auth_pb2.IssueTokenRequest(
                grant_type="client_credentials", client_id="ds_claimed", client_secret="wrong"
            ),
            metadata=request_id("bad-secret"),
        )
    alice = await token(gateway, channel, "alice", ["compute:read"])
    with pytest.raises(grpc.aio.AioRpcError):
        await jobs.CreateJob(job_pb2.CreateJobRequest(), metadata=bearer(alice, "no-scope"))

    records = {r.request_id: r for r in await all_records(gateway)}
    no_token, bad_secret, no_scope = records["no-token"], records["bad-secret"], records["no-scope"]
    assert (no_token.status, no_token.user_id, no_token.ip_address) == (
        "UNAUTHENTICATED", "", "127.0.0.1",
    )  # fmt: skip
    assert (bad_secret.action, bad_secret.status, bad_secret.client_id) == (
        "auth.issue_token", "UNAUTHENTICATED", "ds_claimed",
    )  # fmt: skip
    assert (no_scope.status, no_scope.user_id) == ("PERMISSION_DENIED", "alice")
    assert no_scope.client_id.startswith("ds_")


async def test_users_list_their_own_records_auditors_everyones_with_filters_and_pages(
    gateway: Gateway, channel: grpc.aio.Channel
) -> None:
    jobs = job_pb2_grpc.JobServiceStub(channel)
    audit = audit_pb2_grpc.AuditServiceStub(channel)
    alice = await token(gateway, channel, "alice", USER)
    bob = await token(gateway, channel, "bob", USER)
    auditor = await token(gateway, channel, "root", AUDITOR)
    for _ in range(4):
        await jobs.ListJobs(job_pb2.ListJobsRequest(), metadata=bearer(alice))
        await jobs.ListJobs(job_pb2.ListJobsRequest(), metadata=bearer(bob))
    with pytest.raises(grpc.aio.AioRpcError):
        await jobs.GetJob(job_pb2.GetJobRequest(id="job_x"), metadata=bearer(alice))

    async def listing(who: str, **fields: Any) -> list[audit_pb2.AuditRecord]:
        found: list[audit_pb2.AuditRecord] = []
        page_token = ""
        while True:
            response = await audit.ListAuditRecords(
                audit_pb2.ListAuditRecordsRequest(page_size=3, page_token=page_token, **fields),
                metadata=bearer(who),
            )
            assert len(response.records) <= 3
            found.extend(response.records)
            page_token = response.next_page_token
            if not page_token:
                return found

    mine = await listing(alice)
    assert {r.user_id for r in mine} == {"alice"}
    assert [r.action for r in mine].count("job.list") == 4
    assert [r.sequence for r in mine] == sorted(r.sequence for r in mine)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await listing(alice, user_id="bob")
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    everyone = await listing(auditor)
    assert {"alice", "bob", "root"} <= {r.user_id for r in everyone}
    bobs = await listing(auditor, user_id="bob", action="job.list")
    assert len(bobs) == 4
    failed = await listing(alice, status_code=5)
    assert [(r.action, r.resource_id) for r in failed] == [("job.get", "job_x")]
    middle = bobs[1].time
    later = await listing(auditor, user_id="bob", action="job.list", start_time=middle)
    earlier = await listing(auditor, user_id="bob", action="job.list", end_time=middle)
    assert (len(later), len(earlier)) == (3, 1)
    with pytest.raises(grpc.aio.AioRpcError) as bad_token:
        await audit.ListAuditRecords(
            audit_pb2.ListAuditRecordsRequest(page_token="garbage", action="x"),
            metadata=bearer(alice),
        )
    assert bad_token.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_the_tail_resumes_after_a_sequence_then_follows_new_records(
    gateway: Gateway, channel: grpc.aio.Channel
) -> None:
    jobs = job_pb2_grpc.JobServiceStub(channel)
    audit = audit_pb2_grpc.AuditServiceStub(channel)
    alice = await token(gateway, channel, "alice", USER)
    for index in range(3):
        await jobs.ListJobs(job_pb2.ListJobsRequest(), metadata=bearer(alice, f"old-{index}"))
    old = [r for r in await all_records(gateway) if r.request_id.startswith("old-")]

    tail = audit.WatchAuditRecords(
        audit_pb2.WatchAuditRecordsRequest(after_sequence=old[0].sequence, action="job.list"),
        metadata=bearer(alice),
    )
    replayed: list[Any] = [await tail.read() for _ in range(2)]
    await jobs.ListJobs(job_pb2.ListJobsRequest(), metadata=bearer(alice, "new"))
    live: Any = await asyncio.wait_for(tail.read(), 10)
    tail.cancel()

    assert [r.record.request_id for r in replayed] == ["old-1", "old-2"]
    assert live.record.request_id == "new"
    assert live.record.sequence > replayed[-1].record.sequence


async def test_verify_reports_a_record_edited_in_the_database(
    gateway: Gateway, channel: grpc.aio.Channel
) -> None:
    jobs = job_pb2_grpc.JobServiceStub(channel)
    audit = audit_pb2_grpc.AuditServiceStub(channel)
    admin = await token(gateway, channel, "root", ALL)
    alice = await token(gateway, channel, "alice", USER)
    for _ in range(12):
        await jobs.ListJobs(job_pb2.ListJobsRequest(), metadata=bearer(admin))

    verified = await audit.VerifyAuditChain(
        audit_pb2.VerifyAuditChainRequest(), metadata=bearer(admin)
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await audit.VerifyAuditChain(audit_pb2.VerifyAuditChainRequest(), metadata=bearer(alice))
    checkpoints = await audit.ListAuditCheckpoints(
        audit_pb2.ListAuditCheckpointsRequest(), metadata=bearer(admin)
    )
    await asyncio.to_thread(_tamper, gateway, 7)
    broken = await audit.VerifyAuditChain(
        audit_pb2.VerifyAuditChainRequest(end_sequence=verified.end_sequence),
        metadata=bearer(admin),
    )

    assert (verified.ok, verified.first_broken_sequence) == (True, 0)
    assert verified.records_checked == verified.end_sequence >= 14
    covered = [c for c in checkpoints.checkpoints if c.sequence <= verified.end_sequence]
    assert verified.checkpoints_checked == len(covered) >= 2
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (broken.ok, broken.first_broken_sequence) == (False, 7)
    assert "hash mismatch" in broken.problem


def _tamper(gateway: Gateway, sequence: int) -> None:
    database = sqlite3.connect(gateway.settings.storage.database_path)
    with database:
        database.execute("DROP TRIGGER audit_records_append_only_update")
        database.execute(
            "UPDATE audit_records SET user_id = 'mallory' WHERE sequence = ?", (sequence,)
        )
    database.close()
