"""Schema migrations: applied once, recorded, and refused when the database disagrees."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepseek_server.storage import MigrationError, SqliteStore, installation_id
from deepseek_server.storage._migrations import Migration, check_sequence, load_migrations
from deepseek_server.storage._sqlite_ops import split_statements

PACKAGED = load_migrations("sqlite")
EXTRA = Migration(len(PACKAGED) + 1, "widgets", "CREATE TABLE widgets (id INTEGER PRIMARY KEY);")


def test_packaged_migrations_are_numbered_from_one_without_gaps() -> None:
    assert [m.version for m in PACKAGED] == list(range(1, len(PACKAGED) + 1))
    assert PACKAGED[0].name == "gateway_meta"


@pytest.mark.parametrize(
    "versions",
    [pytest.param([1, 3], id="gap"), pytest.param([1, 1, 2], id="duplicate"), [2, 3]],
)
def test_check_sequence_rejects_gaps_and_duplicates(versions: list[int]) -> None:
    migrations = [Migration(v, f"m{v}", "SELECT 1;") for v in versions]
    with pytest.raises(MigrationError, match="without gaps or duplicates"):
        check_sequence(migrations)


async def test_migrations_apply_once_and_are_recorded(db_path: Path) -> None:
    async with await SqliteStore.open(db_path) as store:
        assert store.schema_version == len(PACKAGED)
        rows = await store.fetch_all(
            "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version"
        )
        first_id = await installation_id(store)

    assert [(r["version"], r["name"], r["checksum"]) for r in rows] == [
        (m.version, m.name, m.checksum) for m in PACKAGED
    ]
    assert all(r["applied_at"] for r in rows)
    assert len(first_id) == 32
    int(first_id, 16)

    async with await SqliteStore.open(db_path) as reopened:
        assert reopened.schema_version == len(PACKAGED)
        again = await reopened.fetch_all("SELECT applied_at FROM schema_migrations")
        assert [r["applied_at"] for r in again] == [r["applied_at"] for r in rows]
        assert await installation_id(reopened) == first_id


async def test_reopening_with_a_new_migration_applies_only_that_one(db_path: Path) -> None:
    await (await SqliteStore.open(db_path)).close()

    async with await SqliteStore.open(db_path, migrations=[*PACKAGED, EXTRA]) as store:
        assert store.schema_version == EXTRA.version
        assert await store.execute("INSERT INTO widgets (id) VALUES (1)") == 1
        count = await store.fetch_one("SELECT count(*) AS n FROM schema_migrations")
        assert count == {"n": EXTRA.version}


async def test_a_database_newer_than_the_code_refuses_to_open(db_path: Path) -> None:
    async with await SqliteStore.open(db_path, migrations=[*PACKAGED, EXTRA]):
        pass

    with pytest.raises(MigrationError) as raised:
        await SqliteStore.open(db_path)

    message = str(raised.value)
    assert str(db_path) in message
    assert f"schema version {EXTRA.version}" in message
    assert f"latest migration {len(PACKAGED)}" in message


async def test_a_changed_migration_refuses_to_open(db_path: Path) -> None:
    await (await SqliteStore.open(db_path)).close()
    edited = Migration(1, PACKAGED[0].name, PACKAGED[0].sql + "\n-- edited after release\n")

    with pytest.raises(MigrationError) as raised:
        await SqliteStore.open(db_path, migrations=[edited, *PACKAGED[1:]])

    message = str(raised.value)
    assert str(db_path) in message
    assert "migration 1 (gateway_meta)" in message
    assert PACKAGED[0].checksum[:12] in message
    assert edited.checksum[:12] in message


async def test_a_failing_migration_rolls_back_and_does_not_open(db_path: Path) -> None:
    broken = Migration(
        len(PACKAGED) + 1,
        "broken",
        "CREATE TABLE half_done (id INTEGER);\nINSERT INTO no_such_table VALUES (1);\n",
    )
    with pytest.raises(MigrationError, match=r"migration \d+ \(broken\) failed"):
        await SqliteStore.open(db_path, migrations=[*PACKAGED, broken])

    async with await SqliteStore.open(db_path) as store:
        assert store.schema_version == len(PACKAGED)
        table = await store.fetch_one(
            "SELECT name FROM sqlite_master WHERE name = :name", {"name": "half_done"}
        )
        assert table is None


def test_split_statements_respects_strings_comments_and_triggers() -> None:
    script = """
        -- a comment; with a semicolon
        CREATE TABLE t (v TEXT DEFAULT 'a;b');
        CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN
            UPDATE t SET v = 'x;y' WHERE rowid = new.rowid;
        END;
        INSERT INTO t DEFAULT VALUES
    """
    statements = split_statements(script)

    assert len(statements) == 3
    assert statements[0].startswith("-- a comment; with a semicolon")
    assert statements[0].endswith("DEFAULT 'a;b');")
    assert statements[1].startswith("CREATE TRIGGER")
    assert statements[1].endswith("END;")
    assert statements[2] == "INSERT INTO t DEFAULT VALUES"
