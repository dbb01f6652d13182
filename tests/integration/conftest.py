"""Integration fixtures: a real gateway, in this process, on a free port."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from deepseek_server.app import Gateway
from deepseek_server.config import Settings


@pytest.fixture
def settings_for(tmp_path: Path) -> Callable[..., Settings]:
    """Makes settings: embedded defaults, a free port, state under ``tmp_path``.

    Keyword arguments override ``server.*`` settings.
    """

    def make(**server: object) -> Settings:
        defaults = Settings()
        return dataclasses.replace(
            defaults,
            server=dataclasses.replace(defaults.server, port=0, **server),  # type: ignore[arg-type]
            storage=dataclasses.replace(defaults.storage, state_dir=tmp_path / "var"),
        )

    return make


@pytest.fixture
async def gateway(settings_for: Callable[..., Settings]) -> AsyncIterator[Gateway]:
    """A started gateway on 127.0.0.1 with its state under the test's ``tmp_path``."""
    started = Gateway(settings_for())
    await started.start()
    yield started
    await started.stop(grace=0)
