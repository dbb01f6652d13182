"""The storage package's public names are chosen, not accidental."""

from __future__ import annotations

from pathlib import Path

import deepseek_server.storage as storage
from deepseek_server.storage import SqliteStore, Store, installation_id


def test_exported_names() -> None:
    assert sorted(storage.__all__) == [
        "Batcher",
        "ConstraintError",
        "GroupCommit",
        "MigrationError",
        "Params",
        "Queryable",
        "Row",
        "SqliteOptions",
        "SqliteStore",
        "Store",
        "StoreBusyError",
        "StoreClosedError",
        "StoreError",
        "Transaction",
        "installation_id",
        "open_store",
    ]
    for name in storage.__all__:
        assert getattr(storage, name) is not None


async def test_the_sqlite_store_serves_as_a_store(tmp_path: Path) -> None:
    store: Store = await SqliteStore.open(tmp_path / "gateway.db")  # mypy checks the Protocol
    try:
        async with store.transaction() as tx:
            changed = await tx.execute(
                "UPDATE gateway_meta SET value = value WHERE key = :key", {"key": "installation_id"}
            )
            assert changed == 1
        assert await installation_id(store) != ""
    finally:
        await store.close()
