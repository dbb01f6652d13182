"""Files, datasets, usage and audit records are the owner's: another user sees NOT_FOUND or
nothing, exactly as for something that does not exist."""

from __future__ import annotations

from pathlib import Path

import pytest

import deepseek_api as ds
from deepseek_server.app import Gateway
from tests.integration.auth.conftest import register
from tests.support import spec


async def _client(gateway: Gateway, user: str, *extra_scopes: str) -> ds.AsyncDeepSeekClient:
    scopes = ["compute:read", "compute:write", *extra_scopes]
    client_id, secret = await register(gateway, user, scopes)
    return ds.AsyncDeepSeekClient(
        gateway.address, credentials={"client_id": client_id, "client_secret": secret}
    )


async def test_another_users_files_datasets_usage_and_audit_are_out_of_reach(
    gateway: Gateway, tmp_path: Path
) -> None:
    source = tmp_path / "input.txt"
    source.write_text("alice's data\n")
    async with await _client(gateway, "alice") as alice, await _client(gateway, "bob") as bob:
        await alice.create_dataset("shared-name")
        await alice.upload_to_dataset("shared-name", [source], seal=True)
        job = await alice.create_job(spec("cat input.txt > result.txt"))
        await alice.upload_input_files(job.id, [source])
        await job.submit()
        await job.wait(timeout=60)

        with pytest.raises(ds.NotFound):
            await bob.download_results(job.id, tmp_path / "stolen")
        with pytest.raises(ds.NotFound):
            _ = [f async for f in bob.list_files(job.id)]
        with pytest.raises(ds.NotFound):
            await bob.upload_input_files(job.id, [source])
        with pytest.raises(ds.NotFound):
            await bob.get_dataset("shared-name")
        with pytest.raises(ds.NotFound):
            await bob.upload_to_dataset("shared-name", [source])
        bob_usage = await bob.get_usage()
        bob_audit = [record async for record in bob.list_audit_records()]
        alice_usage = await alice.get_usage()

    assert job.status == "COMPLETED"
    assert [line.job_id for line in alice_usage.lines] == [job.id]
    assert list(bob_usage.lines) == []
    assert bob_audit
    assert {record.user_id for record in bob_audit} == {"bob"}
    assert not (tmp_path / "stolen").exists() or not any((tmp_path / "stolen").iterdir())


async def test_the_audit_read_scope_reads_everyones_records(gateway: Gateway) -> None:
    async with (
        await _client(gateway, "alice") as alice,
        await _client(gateway, "auditor", "audit:read") as auditor,
    ):
        await alice.create_job(spec("true"))
        own = {record.user_id async for record in alice.list_audit_records()}
        everyone = {record.user_id async for record in auditor.list_audit_records()}
        with pytest.raises(ds.PermissionDenied):
            _ = [r async for r in alice.list_audit_records(user_id="auditor")]

    assert own == {"alice"}
    assert "alice" in everyone  # the auditor's own calls are recorded as they end
