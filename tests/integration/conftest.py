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

    Keyword arguments are sections (``server``, ``executor``, ...) mapping to overrides.
    """

    def make(**sections: dict[str, object]) -> Settings:
        defaults = Settings()
        overrides: dict[str, dict[str, object]] = {
            "server": {"port": 0},
            "storage": {"state_dir": tmp_path / "var"},
            # Short, so that tests of cancellation and timeouts of stubborn jobs stay quick.
            "executor": {"kill_grace_seconds": 1.0},
            # Tests of other features act as the local user; tests of identity turn this on.
            "auth": {"required": False},
        }
        for section, values in sections.items():
            overrides[section] = {**overrides.get(section, {}), **values}
        return dataclasses.replace(
            defaults,
            **{
                section: dataclasses.replace(getattr(defaults, section), **values)
                for section, values in overrides.items()
            },
        )

    return make


@pytest.fixture
async def gateway(settings_for: Callable[..., Settings]) -> AsyncIterator[Gateway]:
    """A started gateway on 127.0.0.1 with its state under the test's ``tmp_path``."""
    started = Gateway(settings_for())
    await started.start()
    yield started
    await started.stop(grace=0)
