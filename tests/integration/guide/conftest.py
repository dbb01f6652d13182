"""Fixtures for the platform guide's samples: a gateway that requires access tokens, on the
local executor (one node made as large as the guide's nodes) or on the Slurm test cluster,
and the credentials of a client registered the way ``deepseek-server clients create`` does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from deepseek_server.app import Gateway
from deepseek_server.config import Settings
from tests.support import parametrize_executors, started_gateway

SCOPES = ["compute:read", "compute:write"]
# The guide's node in 4.1: 4 GPUs and 512 GB. The local executor is one such node.
LOCAL_NODE: dict[str, object] = {"cpus": 8, "memory_gb": 512, "gpus": 4}

pytest_generate_tests = parametrize_executors


@pytest.fixture
async def gateway(
    settings_for: Callable[..., Settings], executor_kind: str
) -> AsyncIterator[Gateway]:
    """A started gateway that requires access tokens."""
    async with started_gateway(
        settings_for, executor_kind, LOCAL_NODE, auth={"required": True}
    ) as gateway:
        yield gateway


@pytest.fixture
async def credentials(gateway: Gateway) -> dict[str, str]:
    """The guide's ``credentials`` dict of a client registered for user ``researcher_007``."""
    made = await gateway.identity.clients.create("researcher_007", SCOPES)
    return {"client_id": made.client.id, "client_secret": made.secret}


@pytest.fixture
def endpoint(gateway: Gateway) -> str:
    """The guide's ``endpoint``, for the test gateway (plaintext ``http://``)."""
    return f"http://{gateway.address}"
