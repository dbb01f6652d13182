"""AuthService.IssueToken: the client_credentials grant, its errors, and GetJwks."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import grpc
import grpc.aio
import jwt
import pytest

import deepseek_api as ds
from deepseek.hpc.v1 import auth_pb2, auth_pb2_grpc, job_pb2, job_pb2_grpc
from deepseek_server.app import Gateway
from tests.integration.auth.conftest import Client, issue, register


async def refused(call: Awaitable[object]) -> ds.APIException:
    """The SDK exception for the call's failure; fails the test if the call succeeds."""
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return ds.from_rpc_error(raised.value)


async def test_a_client_gets_a_signed_rfc_9068_token_that_works(
    gateway: Gateway,
    auth: auth_pb2_grpc.AuthServiceAsyncStub,
    jobs: job_pb2_grpc.JobServiceAsyncStub,
) -> None:
    client_id, secret = await register(gateway, "alice", ["compute:read", "compute:write"])

    response = await issue(auth, client_id, secret, "compute:read")

    assert (response.token_type, response.expires_in, response.scope) == (
        "Bearer",
        3600,
        "compute:read",
    )
    header = jwt.get_unverified_header(response.access_token)
    claims = jwt.decode(response.access_token, options={"verify_signature": False})
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES256"
    assert header["kid"] == gateway.identity.jwks()[0]["kid"]
    assert claims["iss"] == "deepseek-hpc-gateway"
    assert claims["aud"] == "deepseek-hpc"
    assert (claims["sub"], claims["client_id"], claims["scope"]) == (
        "alice",
        client_id,
        "compute:read",
    )
    assert claims["exp"] - claims["iat"] == 3600
    assert abs(claims["iat"] - time.time()) < 60
    assert claims["jti"]
    bearer = (("authorization", f"Bearer {response.access_token}"),)
    listed = await jobs.ListJobs(job_pb2.ListJobsRequest(), metadata=bearer, timeout=10)
    assert list(listed.jobs) == []


async def test_an_empty_scope_grants_every_scope_of_the_client(
    gateway: Gateway, auth: auth_pb2_grpc.AuthServiceAsyncStub
) -> None:
    client_id, secret = await register(gateway, "alice", ["compute:write", "audit:read"])

    response = await issue(auth, client_id, secret)

    assert response.scope == "audit:read compute:write"


async def test_a_wrong_secret_and_an_unknown_client_are_the_same_error_after_the_same_work(
    gateway: Gateway, auth: auth_pb2_grpc.AuthServiceAsyncStub
) -> None:
    client_id, secret = await register(gateway, "alice")

    async def timed(call: Awaitable[object]) -> tuple[ds.APIException, float]:
        started = time.perf_counter()
        error = await refused(call)
        return error, time.perf_counter() - started

    wrong, wrong_time = await timed(issue(auth, client_id, secret + "x"))
    unknown, unknown_time = await timed(issue(auth, "ds_client_nobody", secret))

    for error in (wrong, unknown):
        assert isinstance(error, ds.Unauthenticated)
        assert error.reason == "INVALID_CLIENT"
    assert wrong.message == unknown.message == "invalid client credentials"
    assert client_id not in wrong.message
    # Both paths run the slow hash (several ms): an unknown id is not answered early.
    assert min(wrong_time, unknown_time) > 0.005


async def test_grant_type_and_scope_errors_are_invalid_argument(
    gateway: Gateway, auth: auth_pb2_grpc.AuthServiceAsyncStub
) -> None:
    client_id, secret = await register(gateway, "alice", ["compute:read"])

    bad_grant = await refused(
        auth.IssueToken(
            auth_pb2.IssueTokenRequest(
                grant_type="password", client_id=client_id, client_secret=secret
            )
        )
    )
    lacking = await refused(issue(auth, client_id, secret, "compute:read admin"))
    unknown = await refused(issue(auth, client_id, secret, "everything"))

    assert isinstance(bad_grant, ds.InvalidArgument)
    assert bad_grant.reason == "UNSUPPORTED_GRANT_TYPE"
    assert [v.field for v in bad_grant.field_violations] == ["grant_type"]
    for error in (lacking, unknown):
        assert isinstance(error, ds.InvalidArgument)
        assert error.reason == "INVALID_SCOPE"
        assert [v.field for v in error.field_violations] == ["scope"]


async def test_a_disabled_client_gets_no_token(
    gateway: Gateway, auth: auth_pb2_grpc.AuthServiceAsyncStub
) -> None:
    client_id, secret = await register(gateway, "alice")
    await gateway.identity.clients.set_enabled(client_id, False)

    error = await refused(issue(auth, client_id, secret))

    assert isinstance(error, ds.Unauthenticated)
    assert error.message == "invalid client credentials"


async def test_repeated_failures_for_a_client_id_are_slowed_down_with_retry_info(
    gateway: Gateway, auth: auth_pb2_grpc.AuthServiceAsyncStub
) -> None:
    client_id, secret = await register(gateway, "alice")
    failures = await asyncio.gather(*(refused(issue(auth, client_id, "guess")) for _ in range(10)))

    blocked = await refused(issue(auth, client_id, secret))

    assert all(isinstance(error, ds.Unauthenticated) for error in failures)
    assert isinstance(blocked, ds.ResourceExhausted)
    assert blocked.reason == "TOO_MANY_ATTEMPTS"
    assert blocked.retry_delay is not None
    assert 0 < blocked.retry_delay <= 6.0
    other_id, other_secret = await register(gateway, "bob")
    assert (await issue(auth, other_id, other_secret)).access_token


async def test_jwks_rpc_and_file_verify_a_token_offline_with_pyjwt(
    gateway: Gateway,
    auth: auth_pb2_grpc.AuthServiceAsyncStub,
    make_client: Callable[..., Awaitable[Client]],
) -> None:
    client = await make_client()

    response = await auth.GetJwks(auth_pb2.GetJwksRequest(), timeout=10)
    from_rpc = {
        "keys": [{field.name: value for field, value in key.ListFields()} for key in response.keys]
    }
    from_file = json.loads(
        (gateway.settings.storage.state_dir / "jwks.json").read_text(encoding="utf-8")
    )

    assert [key["kid"] for key in from_rpc["keys"]] == [key["kid"] for key in from_file["keys"]]
    for document in (from_rpc, from_file):
        keys = jwt.PyJWKSet.from_dict(document)
        kid = jwt.get_unverified_header(client.token)["kid"]
        claims = jwt.decode(
            client.token,
            keys[kid].key,
            algorithms=["ES256"],
            audience="deepseek-hpc",
            issuer="deepseek-hpc-gateway",
        )
        assert claims["sub"] == "alice"
    assert all("d" not in key for key in from_file["keys"])  # no private part
