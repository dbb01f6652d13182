"""Fixtures for the platform guide's samples: a gateway that requires access tokens, on the
local executor (one node made as large as the guide's nodes) or on the Slurm test cluster,
and the credentials of a client registered the way ``deepseek-server clients create`` does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from deepseek_server.app import Gateway
from deepseek_server.config import Settings
from deepseek_server.executors.slurm import job_name
from deepseek_server.storage import installation_id
from tests.support import cancel_slurm_jobs, slurm_conf

EXECUTORS = ("local", "slurm")
SCOPES = ["compute:read", "compute:write"]
# The guide's node in 4.1: 4 GPUs and 512 GB. The local executor is one such node.
LOCAL_NODE = {"cpus": 8, "memory_gb": 512, "gpus": 4}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test once per executor it names with ``@pytest.mark.executors``."""
    if "executor_kind" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("executors")
        metafunc.parametrize("executor_kind", marker.args if marker else EXECUTORS)


@pytest.fixture
async def gateway(
    settings_for: Callable[..., Settings], executor_kind: str
) -> AsyncIterator[Gateway]:
    """A started gateway that requires access tokens."""
    if executor_kind == "slurm":
        settings = settings_for(
            auth={"required": True},
            executor={"kind": "slurm"},
            slurm={"slurm_conf": slurm_conf(), "poll_interval_seconds": 0.2},
        )
    else:
        settings = settings_for(auth={"required": True}, executor=LOCAL_NODE)
    started = Gateway(settings)
    await started.start()
    installation = await installation_id(started.store)
    yield started
    await started.stop(grace=0)
    if executor_kind == "slurm":
        await asyncio.to_thread(cancel_slurm_jobs, job_name(installation, ""))


@pytest.fixture
async def credentials(gateway: Gateway) -> dict[str, str]:
    """The guide's ``credentials`` dict of a client registered for user ``researcher_007``."""
    made = await gateway.identity.clients.create("researcher_007", SCOPES)
    return {"client_id": made.client.id, "client_secret": made.secret}


@pytest.fixture
def endpoint(gateway: Gateway) -> str:
    """The guide's ``endpoint``, for the test gateway (plaintext ``http://``)."""
    return f"http://{gateway.address}"
