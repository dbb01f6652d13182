"""Fixtures for CLI tests: a gateway requiring tokens, and ``deepseek`` run as typed."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from deepseek_api.cli import main
from deepseek_server.app import Gateway
from deepseek_server.config import Settings
from tests.support import CPUS

SCOPES = ["compute:read", "compute:write", "audit:read"]
COMMAND_TIMEOUT = 40.0


@dataclass(frozen=True)
class Result:
    """What a ``deepseek`` command printed, and its exit code."""

    code: int
    out: str
    err: str


Deepseek = Callable[..., Awaitable[Result]]


@pytest.fixture
async def gateway(settings_for: Callable[..., Settings]) -> AsyncIterator[Gateway]:
    """A gateway that requires access tokens, on the local executor with ``CPUS`` CPUs."""
    started = Gateway(
        settings_for(auth={"required": True}, executor={"cpus": CPUS, "memory_gb": 8})
    )
    await started.start()
    yield started
    await started.stop(grace=0)


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the CLI keeps its profiles in this test (not yet created)."""
    directory = tmp_path / "config" / "deepseek"
    monkeypatch.setenv("DEEPSEEK_CONFIG_DIR", str(directory))
    monkeypatch.delenv("DEEPSEEK_PROFILE", raising=False)
    return directory


@pytest.fixture
def deepseek(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, config_dir: Path
) -> Deepseek:
    """Runs ``deepseek ARGS...`` through ``main`` and returns what it printed.

    ``main`` blocks, so it runs in a thread while the gateway serves on this event loop.
    """

    async def run(*argv: str, stdin: str = "") -> Result:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = await asyncio.wait_for(asyncio.to_thread(main, list(argv)), COMMAND_TIMEOUT)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
async def api_client(gateway: Gateway) -> tuple[str, str]:
    """A registered API client of user alice: its id and secret."""
    made = await gateway.identity.clients.create("alice", SCOPES)
    return made.client.id, made.secret


@pytest.fixture
async def logged_in(deepseek: Deepseek, gateway: Gateway, api_client: tuple[str, str]) -> str:
    """``deepseek login`` done for the default profile; the client id."""
    client_id, secret = api_client
    result = await deepseek(
        "login",
        "--endpoint",
        gateway.address,
        "--client-id",
        client_id,
        "--client-secret-stdin",
        stdin=f"{secret}\n",
    )
    assert result.code == 0, result.err
    return client_id
