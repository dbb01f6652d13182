"""Calls with bad, missing or under-scoped tokens are refused and leave no trace."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import grpc.aio
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from grpc_health.v1 import health_pb2, health_pb2_grpc

import deepseek_api as ds
from deepseek.hpc.v1 import common_pb2, job_pb2, job_pb2_grpc
from deepseek_server.app import Gateway
from deepseek_server.config import Settings
from deepseek_server.context import caller
from deepseek_server.identity import generate_signing_key
from tests.integration.auth.conftest import Client

Metadata = tuple[tuple[str, str], ...]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def claims_of(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def resign(
    gateway: Gateway, token: str, *, headers: dict[str, Any] | None = None, **changes: Any
) -> str:
    """The token's claims changed and signed again with the gateway's own active key."""
    key = next(k for k in gateway.identity.verifier._keys.values() if k.active)
    payload = {**claims_of(token), **changes}
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(
        payload,
        key.private_key,
        algorithm=key.algorithm,
        headers={"kid": key.kid, "typ": "at+jwt", **(headers or {})},
    )


def bad_tokens(gateway: Gateway, good: str) -> dict[str, Metadata]:
    now = int(time.time())
    header, payload, signature = good.split(".")
    kid = jwt.get_unverified_header(good)["kid"]
    stranger = generate_signing_key("ES256", kid)
    public_pem = next(iter(gateway.identity.verifier._keys.values())).public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    forged = b64(json.dumps({**claims_of(good), "sub": "bob"}).encode())
    none_header = b64(json.dumps({"alg": "none", "typ": "at+jwt", "kid": kid}).encode())
    tokens = {
        "unsigned (alg none)": f"{none_header}.{payload}.",
        "tampered payload": f"{header}.{forged}.{signature}",
        "unknown key": jwt.encode(
            claims_of(good),
            stranger.private_key,
            algorithm="ES256",
            headers={"kid": kid, "typ": "at+jwt"},
        ),
        "HS256 with the public key as secret": _hs256(public_pem, kid, claims_of(good)),
        "expired": resign(gateway, good, iat=now - 7200, exp=now - 3600),
        "not yet valid": resign(gateway, good, iat=now + 3600, exp=now + 7200),
        "not before": resign(gateway, good, nbf=now + 3600),
        "wrong audience": resign(gateway, good, aud="another-service"),
        "wrong issuer": resign(gateway, good, iss="https://evil.example"),
        "wrong typ": resign(gateway, good, headers={"typ": "JWT"}),
        **{
            f"missing {claim}": resign(gateway, good, **{claim: None})
            for claim in ("sub", "exp", "jti", "scope", "client_id", "aud")
        },
    }
    cases: dict[str, Metadata] = {
        name: (("authorization", f"Bearer {t}"),) for name, t in tokens.items()
    }
    cases["no metadata"] = ()
    cases["token in the wrong metadata key"] = (("x-access-token", f"Bearer {good}"),)
    cases["token without the Bearer scheme"] = (("authorization", good),)
    cases["Basic scheme"] = (("authorization", f"Basic {good}"),)
    return cases


def _hs256(secret: bytes, kid: str, payload: dict[str, Any]) -> str:
    header = b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": kid}).encode())
    body = b64(json.dumps(payload).encode())
    mac = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64(mac)}"


def create_request() -> job_pb2.CreateJobRequest:
    return job_pb2.CreateJobRequest(
        spec=job_pb2.JobSpec(
            job_name="t",
            command="true",
            resource_spec=common_pb2.ResourceSpec(nodes=1, cpus_per_node=1),
        ),
        submit=True,
    )


async def test_each_bad_token_is_unauthenticated_and_creates_nothing(
    gateway: Gateway,
    jobs: job_pb2_grpc.JobServiceAsyncStub,
    make_client: Callable[..., Awaitable[Client]],
) -> None:
    good = await make_client("alice")
    outcomes: dict[str, ds.APIException] = {}

    for name, metadata in bad_tokens(gateway, good.token).items():
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await jobs.CreateJob(create_request(), metadata=metadata, timeout=10)
        outcomes[name] = ds.from_rpc_error(raised.value)

    for name, error in outcomes.items():
        assert isinstance(error, ds.Unauthenticated), name
        assert error.reason in ("INVALID_TOKEN", "TOKEN_EXPIRED", "MISSING_CREDENTIALS"), name
        assert error.domain == "hpc.deepseek.com", name
    assert outcomes["expired"].reason == "TOKEN_EXPIRED"
    assert outcomes["no metadata"].reason == "MISSING_CREDENTIALS"
    assert outcomes["token in the wrong metadata key"].reason == "MISSING_CREDENTIALS"
    assert outcomes["tampered payload"].reason == "INVALID_TOKEN"
    assert await gateway.store.fetch_all("SELECT id FROM jobs") == []
    listed = await jobs.ListJobs(job_pb2.ListJobsRequest(), metadata=good.metadata, timeout=10)
    assert list(listed.jobs) == []


async def test_a_missing_scope_is_permission_denied_and_does_nothing(
    gateway: Gateway,
    jobs: job_pb2_grpc.JobServiceAsyncStub,
    make_client: Callable[..., Awaitable[Client]],
) -> None:
    reader = await make_client("alice", ["compute:read"])

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await jobs.CreateJob(create_request(), metadata=reader.metadata, timeout=10)
    error = ds.from_rpc_error(raised.value)

    assert isinstance(error, ds.PermissionDenied)
    assert error.reason == "INSUFFICIENT_SCOPE"
    assert error.metadata["required_scope"] == "compute:write"
    assert await gateway.store.fetch_all("SELECT id FROM jobs") == []
    assert await jobs.GetCapabilities(
        job_pb2.GetCapabilitiesRequest(), metadata=reader.metadata, timeout=10
    )


async def test_a_narrowed_token_has_only_the_scopes_it_asked_for(
    jobs: job_pb2_grpc.JobServiceAsyncStub, make_client: Callable[..., Awaitable[Client]]
) -> None:
    narrowed = await make_client("alice", ["compute:read", "compute:write"], scope="compute:read")

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await jobs.CreateJob(create_request(), metadata=narrowed.metadata, timeout=10)

    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED


class _Shapes:
    """A test-only service with all four call shapes, answering with the caller's user id."""

    @staticmethod
    def handler() -> grpc.GenericRpcHandler:
        identity = {"request_deserializer": bytes, "response_serializer": bytes}

        async def unary(request: bytes, context: object) -> bytes:
            return caller().user_id.encode()

        async def server_stream(request: bytes, context: object) -> AsyncIterator[bytes]:
            yield caller().user_id.encode()

        async def client_stream(requests: AsyncIterator[bytes], context: object) -> bytes:
            _ = [r async for r in requests]
            return caller().user_id.encode()

        async def bidi(requests: AsyncIterator[bytes], context: object) -> AsyncIterator[bytes]:
            async for _ in requests:
                yield caller().user_id.encode()

        return grpc.method_handlers_generic_handler(
            "test.Shapes",
            {
                "Unary": grpc.unary_unary_rpc_method_handler(unary, **identity),
                "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream, **identity),
                "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream, **identity),
                "Bidi": grpc.stream_stream_rpc_method_handler(bidi, **identity),
            },
        )


async def _all_shapes(channel: Any, metadata: Metadata) -> dict[str, Any]:
    async def one(shape: str) -> Any:
        path = f"/test.Shapes/{shape}"
        try:
            if shape == "Unary":
                return await channel.unary_unary(path)(b"x", metadata=metadata, timeout=10)
            if shape == "ServerStream":
                return [
                    m async for m in channel.unary_stream(path)(b"x", metadata=metadata, timeout=10)
                ]
            if shape == "ClientStream":
                return await channel.stream_unary(path)(iter([b"x"]), metadata=metadata, timeout=10)
            return [
                m
                async for m in channel.stream_stream(path)(
                    iter([b"x"]), metadata=metadata, timeout=10
                )
            ]
        except grpc.aio.AioRpcError as error:
            return error.code()

    shapes = ("Unary", "ServerStream", "ClientStream", "Bidi")
    return dict(zip(shapes, await asyncio.gather(*(one(s) for s in shapes)), strict=True))


async def test_all_four_call_shapes_are_authenticated_and_see_the_principal(
    auth_settings: Callable[..., Settings],
) -> None:
    gateway = Gateway(auth_settings())
    gateway.server.add_generic_rpc_handlers((_Shapes.handler(),))
    await gateway.start()
    try:
        made = await gateway.identity.clients.create("carol", ["admin"])
        reader = await gateway.identity.clients.create("dave", ["compute:read"])
        async with grpc.aio.insecure_channel(gateway.address) as channel:
            from deepseek.hpc.v1 import auth_pb2_grpc
            from tests.integration.auth.conftest import issue

            stub = auth_pb2_grpc.AuthServiceStub(channel)
            admin_token = (await issue(stub, made.client.id, made.secret)).access_token
            reader_token = (await issue(stub, reader.client.id, reader.secret)).access_token
            anonymous = await _all_shapes(channel, ())
            under_scoped = await _all_shapes(
                channel, (("authorization", f"Bearer {reader_token}"),)
            )
            admitted = await _all_shapes(channel, (("authorization", f"Bearer {admin_token}"),))
    finally:
        await gateway.stop(grace=0)

    assert set(anonymous.values()) == {grpc.StatusCode.UNAUTHENTICATED}
    assert set(under_scoped.values()) == {grpc.StatusCode.PERMISSION_DENIED}
    assert admitted == {
        "Unary": b"carol",
        "ServerStream": [b"carol"],
        "ClientStream": b"carol",
        "Bidi": [b"carol"],
    }


async def test_health_and_reflection_need_no_token(channel: grpc.aio.Channel) -> None:
    response = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(), timeout=10
    )

    assert response.status == health_pb2.HealthCheckResponse.SERVING
