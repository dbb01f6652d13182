"""Fixtures for identity tests: a gateway that requires tokens, clients, and raw stubs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import grpc
import grpc.aio
import pytest

from deepseek.hpc.v1 import auth_pb2, auth_pb2_grpc, job_pb2_grpc
from deepseek_server.app import Gateway
from deepseek_server.config import Settings

ALL = ["compute:read", "compute:write", "audit:read", "admin"]


@dataclass(frozen=True)
class Client:
    """A registered client and a token it was issued."""

    id: str
    secret: str
    token: str

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """Call metadata that presents the token."""
        return (("authorization", f"Bearer {self.token}"),)


@pytest.fixture
def auth_settings(settings_for: Callable[..., Settings]) -> Callable[..., Settings]:
    """Settings with tokens required; ``auth=`` overrides more of the section."""

    def make(**sections: dict[str, object]) -> Settings:
        auth = {"required": True, **sections.pop("auth", {})}
        return settings_for(auth=auth, **sections)

    return make


@pytest.fixture
async def gateway(auth_settings: Callable[..., Settings]) -> AsyncIterator[Gateway]:
    """A started gateway that requires access tokens."""
    started = Gateway(auth_settings())
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
def auth(channel: grpc.aio.Channel) -> auth_pb2_grpc.AuthServiceAsyncStub:
    """A raw AuthService stub."""
    return auth_pb2_grpc.AuthServiceStub(channel)


async def register(gateway: Gateway, user: str, scopes: list[str] | None = None) -> tuple[str, str]:
    """Register a client (as ``clients create`` does); returns its id and secret."""
    made = await gateway.identity.clients.create(user, ALL if scopes is None else scopes)
    return made.client.id, made.secret


async def issue(
    auth: auth_pb2_grpc.AuthServiceAsyncStub, client_id: str, secret: str, scope: str = ""
) -> auth_pb2.IssueTokenResponse:
    """IssueToken for the client_credentials grant."""
    return await auth.IssueToken(
        auth_pb2.IssueTokenRequest(
            grant_type="client_credentials", client_id=client_id, client_secret=secret, scope=scope
        ),
        timeout=10,
    )


@pytest.fixture
def make_client(
    gateway: Gateway, auth: auth_pb2_grpc.AuthServiceAsyncStub
) -> Callable[..., Awaitable[Client]]:
    """Registers a client for a user and issues it a token."""

    async def make(user: str = "alice", scopes: list[str] | None = None, scope: str = "") -> Client:
        client_id, secret = await register(gateway, user, scopes)
        response = await issue(auth, client_id, secret, scope)
        return Client(client_id, secret, response.access_token)

    return make
