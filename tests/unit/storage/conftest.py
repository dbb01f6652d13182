"""Fixtures for the storage tests: a fresh SQLite store in a temporary state directory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from deepseek_server.storage import SqliteStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A database path whose directory does not exist yet, as on a fresh machine."""
    return tmp_path / "var" / "gateway.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteStore]:
    """An open store with a ``counter`` table holding one row (id 1, value 0)."""
    opened = await SqliteStore.open(db_path)
    await opened.execute("CREATE TABLE counter (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)")
    await opened.execute("INSERT INTO counter (id, value) VALUES (1, 0)")
    yield opened
    await opened.close()
