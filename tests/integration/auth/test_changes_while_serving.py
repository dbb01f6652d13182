"""Administration while the gateway serves: disabling a client, rotating keys and secrets."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import grpc
import grpc.aio
import jwt
import pytest

from deepseek.hpc.v1 import auth_pb2, auth_pb2_grpc, job_pb2, job_pb2_grpc
from deepseek_server import admin
from deepseek_server.app import Gateway
from deepseek_server.identity import POLL_SECONDS
from tests.integration.auth.conftest import Client, issue

# The documented delay: a change is seen at the next poll of the identity version.
NOTICED_WITHIN_SECONDS = POLL_SECONDS + 1.0


async def _code_of(call: Awaitable[object]) -> grpc.StatusCode:
    try:
        await call
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def test_a_client_disabled_from_the_cli_is_refused_within_the_documented_delay(
    gateway: Gateway,
    jobs: job_pb2_grpc.JobServiceAsyncStub,
    make_client: Callable[..., Awaitable[Client]],
) -> None:
    client = await make_client("alice")
    other = await make_client("bob")

    def list_jobs(who: Client) -> Awaitable[object]:
        return jobs.ListJobs(job_pb2.ListJobsRequest(), metadata=who.metadata, timeout=10)

    assert await _code_of(list_jobs(client)) == grpc.StatusCode.OK  # now cached as verified
    await admin.set_client_enabled(gateway.settings, client.id, False)
    disabled_at = time.monotonic()
    # Polls the observable outcome, bounded by the documented delay (this is what is tested).
    while await _code_of(list_jobs(client)) == grpc.StatusCode.OK:
        assert time.monotonic() - disabled_at < NOTICED_WITHIN_SECONDS, "still accepted"
        await asyncio.sleep(0.05)

    assert await _code_of(list_jobs(client)) == grpc.StatusCode.UNAUTHENTICATED
    assert await _code_of(list_jobs(other)) == grpc.StatusCode.OK
    await admin.set_client_enabled(gateway.settings, client.id, True)
    await asyncio.wait_for(gateway.identity.wait_for_version(gateway.identity.version + 1), 5)
    assert await _code_of(list_jobs(client)) == grpc.StatusCode.OK


async def test_key_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_key(
    gateway: Gateway,
    auth: auth_pb2_grpc.AuthServiceAsyncStub,
    jobs: job_pb2_grpc.JobServiceAsyncStub,
    make_client: Callable[..., Awaitable[Client]],
) -> None:
    client = await make_client("alice")
    old_kid = jwt.get_unverified_header(client.token)["kid"]

    new_kid = await admin.rotate_signing_key(gateway.settings)
    await asyncio.wait_for(gateway.identity.wait_for_version(gateway.identity.version + 1), 5)
    fresh = (await issue(auth, client.id, client.secret)).access_token
    jwks = await auth.GetJwks(auth_pb2.GetJwksRequest(), timeout=10)
    published = json.loads((gateway.settings.storage.state_dir / "jwks.json").read_text())

    assert new_kid != old_kid
    assert jwt.get_unverified_header(fresh)["kid"] == new_kid
    assert {key.kid for key in jwks.keys} == {old_kid, new_kid}
    assert {key["kid"] for key in published["keys"]} == {old_kid, new_kid}
    for token in (client.token, fresh):
        metadata = (("authorization", f"Bearer {token}"),)
        await jobs.ListJobs(job_pb2.ListJobsRequest(), metadata=metadata, timeout=10)
    listed = await admin.list_signing_keys(gateway.settings)
    assert [(key.kid, key.active) for key in listed] == [(new_kid, True), (old_kid, False)]


async def test_a_rotated_secret_replaces_the_old_one(
    gateway: Gateway,
    auth: auth_pb2_grpc.AuthServiceAsyncStub,
    make_client: Callable[..., Awaitable[Client]],
) -> None:
    client = await make_client("alice")

    rotated = await admin.rotate_client_secret(gateway.settings, client.id)

    assert rotated.secret != client.secret
    assert (await issue(auth, client.id, rotated.secret)).access_token
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await issue(auth, client.id, client.secret)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
