"""The SQLite store: transactions, concurrency, WAL reads, closing, and the event loop."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import pytest

from deepseek_server.storage import (
    ConstraintError,
    SqliteOptions,
    SqliteStore,
    Store,
    StoreClosedError,
    StoreError,
    open_store,
)

# One sqlite3_step that runs for a good fraction of a second with the GIL released.
SLOW_QUERY = """
    WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 3000000)
    SELECT count(*) AS total FROM n
"""


async def counter_value(store: Store) -> int:
    row = await store.fetch_one("SELECT value FROM counter WHERE id = 1")
    assert row is not None
    return int(row["value"])


async def test_open_creates_the_directory_and_uses_wal(db_path: Path) -> None:
    assert not db_path.parent.exists()
    async with await SqliteStore.open(db_path) as store:
        assert store.path == db_path
        mode = await store.fetch_one("PRAGMA journal_mode")
    assert await asyncio.to_thread(db_path.is_file)
    assert mode == {"journal_mode": "wal"}


async def test_foreign_keys_are_enforced(store: SqliteStore) -> None:
    await store.execute(
        "CREATE TABLE child (id INTEGER PRIMARY KEY,"
        " counter_id INTEGER NOT NULL REFERENCES counter (id))"
    )
    with pytest.raises(ConstraintError, match="FOREIGN KEY"):
        await store.execute("INSERT INTO child (id, counter_id) VALUES (1, 999)")


async def test_a_transaction_commits_when_its_block_ends(store: SqliteStore) -> None:
    async with store.transaction() as tx:
        changed = await tx.execute("UPDATE counter SET value = value + 5 WHERE id = 1")
        inside = await tx.fetch_one("SELECT value FROM counter WHERE id = 1")
        returned = await tx.fetch_all(
            "INSERT INTO counter (id, value) VALUES (2, 7), (3, 8) RETURNING id"
        )

    assert changed == 1
    assert inside == {"value": 5}
    assert returned == [{"id": 2}, {"id": 3}]
    assert await store.fetch_all("SELECT id, value FROM counter ORDER BY id") == [
        {"id": 1, "value": 5},
        {"id": 2, "value": 7},
        {"id": 3, "value": 8},
    ]


async def test_an_exception_inside_a_transaction_rolls_it_back(store: SqliteStore) -> None:
    class Boom(Exception):
        pass

    async def write_then_fail() -> None:
        async with store.transaction() as tx:
            await tx.execute("UPDATE counter SET value = 100 WHERE id = 1")
            await tx.execute("INSERT INTO counter (id, value) VALUES (2, 2)")
            raise Boom

    with pytest.raises(Boom):
        await write_then_fail()

    assert await store.fetch_all("SELECT id, value FROM counter") == [{"id": 1, "value": 0}]
    async with store.transaction() as tx:  # the writer is usable again
        await tx.execute("UPDATE counter SET value = 1 WHERE id = 1")
    assert await counter_value(store) == 1


async def test_a_constraint_error_can_be_handled_inside_a_transaction(store: SqliteStore) -> None:
    async with store.transaction() as tx:
        await tx.execute("UPDATE counter SET value = 3 WHERE id = 1")
        with pytest.raises(ConstraintError, match=r"UNIQUE|PRIMARY KEY"):
            await tx.execute("INSERT INTO counter (id, value) VALUES (1, 9)")
        await tx.execute("INSERT INTO counter (id, value) VALUES (2, 9)")

    assert await store.fetch_all("SELECT id, value FROM counter ORDER BY id") == [
        {"id": 1, "value": 3},
        {"id": 2, "value": 9},
    ]


async def test_batched_inserts_are_seen_by_later_reads_and_committed_in_order(
    store: SqliteStore,
) -> None:
    async with store.transaction() as tx:
        await tx.execute_many("INSERT INTO counter (id, value) VALUES (:id, 1)", [{"id": 2}])
        await tx.execute_many("UPDATE counter SET value = value + 1 WHERE id = :id", [{"id": 2}])
        inside = await tx.fetch_one("SELECT value FROM counter WHERE id = 2")
        await tx.execute_many("INSERT INTO counter (id, value) VALUES (:id, 5)", [{"id": 3}])

    assert inside == {"value": 2}
    assert await store.fetch_all("SELECT id, value FROM counter ORDER BY id") == [
        {"id": 1, "value": 0},
        {"id": 2, "value": 2},
        {"id": 3, "value": 5},
    ]


async def test_a_failing_batched_insert_rolls_the_whole_transaction_back(
    store: SqliteStore,
) -> None:
    async def update_then_insert_a_duplicate() -> None:
        async with store.transaction() as tx:
            await tx.execute("UPDATE counter SET value = 7 WHERE id = 1")
            await tx.execute_many(
                "INSERT INTO counter (id, value) VALUES (:id, 0)", [{"id": 2}, {"id": 1}]
            )

    with pytest.raises(ConstraintError, match=r"UNIQUE|PRIMARY KEY"):
        await update_then_insert_a_duplicate()

    assert await store.fetch_all("SELECT id, value FROM counter") == [{"id": 1, "value": 0}]
    async with store.transaction() as tx:  # the writer is usable again
        await tx.execute_many("INSERT INTO counter (id, value) VALUES (:id, 0)", [{"id": 2}])
    assert await store.fetch_all("SELECT id FROM counter ORDER BY id") == [{"id": 1}, {"id": 2}]


async def test_many_rows_are_inserted_in_chunks_with_every_value_in_place(
    store: SqliteStore,
) -> None:
    rows = [{"value": i * 7, "id": i, "unused": "x"} for i in range(2, 103)]  # 64 + 32 + 4 + 1
    async with store.transaction() as tx:
        await tx.execute_many("INSERT INTO counter (id, value) VALUES (:id, :value)", rows)
        await tx.execute_many(
            "INSERT INTO counter (id, value) VALUES (:id, :value) "
            "ON CONFLICT (id) DO UPDATE SET value = excluded.value + 1",
            [{"id": 1, "value": 10}, {"id": 2, "value": 20}, {"id": 500, "value": 5}],
        )

    stored = await store.fetch_all("SELECT id, value FROM counter ORDER BY id")
    expected = [{"id": 1, "value": 11}, {"id": 2, "value": 21}]
    expected += [{"id": i, "value": i * 7} for i in range(3, 103)] + [{"id": 500, "value": 5}]
    assert stored == expected


async def test_a_row_missing_a_parameter_fails_the_whole_statement(store: SqliteStore) -> None:
    rows = [{"id": 2, "value": 2}, {"id": 3}]
    with pytest.raises(StoreError, match="value"):
        await store.execute_many("INSERT INTO counter (id, value) VALUES (:id, :value)", rows)
    assert await store.fetch_all("SELECT id FROM counter") == [{"id": 1}]


async def test_a_transaction_cannot_be_used_after_it_ends(store: SqliteStore) -> None:
    async with store.transaction() as tx:
        await tx.execute("UPDATE counter SET value = 1 WHERE id = 1")
    with pytest.raises(StoreError, match="has ended"):
        await tx.execute("UPDATE counter SET value = 2 WHERE id = 1")
    assert await counter_value(store) == 1


async def test_writing_on_the_store_inside_a_transaction_fails_instead_of_deadlocking(
    store: SqliteStore,
) -> None:
    async with store.transaction():
        with pytest.raises(StoreError, match="inside a transaction"):
            await store.execute("UPDATE counter SET value = 1 WHERE id = 1")
        with pytest.raises(StoreError, match="inside a transaction"):
            async with store.transaction():
                pass


async def test_store_execute_many_is_all_or_nothing(store: SqliteStore) -> None:
    rows = [{"id": i, "value": i} for i in (2, 3, 1)]  # id 1 exists: the third row fails
    with pytest.raises(ConstraintError):
        await store.execute_many("INSERT INTO counter (id, value) VALUES (:id, :value)", rows)
    assert await store.fetch_all("SELECT id FROM counter") == [{"id": 1}]

    await store.execute_many(
        "INSERT INTO counter (id, value) VALUES (:id, :value)", (r for r in rows[:2])
    )
    assert await store.fetch_all("SELECT id FROM counter ORDER BY id") == [
        {"id": 1},
        {"id": 2},
        {"id": 3},
    ]


async def test_reads_on_the_store_refuse_to_write(store: SqliteStore) -> None:
    with pytest.raises(StoreError, match="readonly") as raised:
        await store.fetch_one("UPDATE counter SET value = 9 WHERE id = 1 RETURNING value")
    assert "inside transaction()" in str(raised.value)
    assert await counter_value(store) == 0


async def test_concurrent_writers_lose_no_update(store: SqliteStore) -> None:
    async def increment() -> None:
        async with store.transaction() as tx:
            row = await tx.fetch_one("SELECT value FROM counter WHERE id = 1")
            assert row is not None
            await asyncio.sleep(0)  # invite interleaving: another writer must wait, not read
            await tx.execute(
                "UPDATE counter SET value = :value WHERE id = 1", {"value": row["value"] + 1}
            )

    await asyncio.gather(*(increment() for _ in range(50)))

    assert await counter_value(store) == 50


async def test_reads_proceed_while_a_write_transaction_is_open(store: SqliteStore) -> None:
    async with store.transaction() as tx:
        await tx.execute("UPDATE counter SET value = 42 WHERE id = 1")
        # The write lock is held: a read that queued behind it would time out here.
        assert await asyncio.wait_for(counter_value(store), timeout=5) == 0
    assert await counter_value(store) == 42


async def test_reads_proceed_while_the_writer_is_busy(store: SqliteStore) -> None:
    started = asyncio.Event()

    async def long_write() -> None:
        async with store.transaction() as tx:
            await tx.execute("UPDATE counter SET value = 1 WHERE id = 1")
            started.set()
            await tx.fetch_one(SLOW_QUERY)

    writing = asyncio.create_task(long_write())
    await asyncio.wait_for(started.wait(), timeout=10)
    assert await asyncio.wait_for(counter_value(store), timeout=10) == 0
    assert not writing.done(), "the read waited for the writer"
    await asyncio.wait_for(writing, timeout=30)
    assert await counter_value(store) == 1


async def test_the_event_loop_keeps_running_during_a_large_transaction(
    store: SqliteStore,
) -> None:
    ticks: list[float] = []
    stop = asyncio.Event()

    async def heartbeat() -> None:
        while not stop.is_set():
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.005)

    beating = asyncio.create_task(heartbeat())
    await asyncio.sleep(0.02)
    began = time.perf_counter()
    async with store.transaction() as tx:
        await tx.execute_many(
            "INSERT INTO counter (id, value) VALUES (:id, :value)",
            [{"id": i, "value": i} for i in range(2, 50_002)],
        )
        await tx.fetch_one(SLOW_QUERY)
    elapsed = time.perf_counter() - began
    stop.set()
    await beating

    during = [t for t in ticks if t >= began]
    gaps = [b - a for a, b in itertools.pairwise(ticks) if b >= began]
    assert elapsed > 0.3, f"the transaction took {elapsed:.3f}s, too short to tell"
    # Blocked, the loop would not tick at all until the transaction ended.
    assert len(during) >= elapsed / 0.005 / 10, f"{len(during)} ticks in {elapsed:.3f}s"
    longest = max(gaps, default=elapsed)
    assert longest < elapsed / 2, f"longest pause {longest:.3f}s of {elapsed:.3f}s"


async def test_close_is_idempotent_and_refuses_new_work(store: SqliteStore) -> None:
    await asyncio.gather(store.close(), store.close())
    await store.close()

    with pytest.raises(StoreClosedError):
        await store.fetch_one("SELECT 1")
    with pytest.raises(StoreClosedError):
        await store.execute("UPDATE counter SET value = 1")
    with pytest.raises(StoreClosedError):
        async with store.transaction():
            pass


async def test_close_waits_for_work_in_flight(db_path: Path) -> None:
    store = await SqliteStore.open(db_path, SqliteOptions(synchronous="FULL", readers=1))
    await store.execute("CREATE TABLE t (v INTEGER)")
    entered = asyncio.Event()

    async def write() -> None:
        async with store.transaction() as tx:
            entered.set()
            await asyncio.sleep(0.05)
            await tx.execute("INSERT INTO t (v) VALUES (1)")

    writing = asyncio.create_task(write())
    reading = asyncio.create_task(store.fetch_one(SLOW_QUERY))
    await entered.wait()
    await asyncio.wait_for(store.close(), timeout=30)

    assert writing.done()
    assert writing.exception() is None
    assert reading.done()
    assert reading.result() == {"total": 3_000_000}
    async with await SqliteStore.open(db_path) as reopened:
        assert await reopened.fetch_all("SELECT v FROM t") == [{"v": 1}]


@pytest.mark.parametrize(
    "name",
    ["sqlite:///{path}", "{path}"],
)
async def test_open_store_accepts_a_path_or_sqlite_url(tmp_path: Path, name: str) -> None:
    path = tmp_path / "state" / "gateway.db"
    store = await open_store(name.format(path=path))
    try:
        assert isinstance(store, SqliteStore)
        assert store.path == path
        assert store.schema_version >= 1
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("postgresql://db/gateway", "not implemented"),
        ("mysql://db/gateway", "unknown store URL scheme"),
        (":memory:", "plain file path"),
        ("sqlite://", "sqlite:///relative.db"),
    ],
)
async def test_open_store_rejects_what_it_cannot_open(name: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        await open_store(name)


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="synchronous"):
        SqliteOptions(synchronous="OFF")
    with pytest.raises(ValueError, match="readers"):
        SqliteOptions(readers=0)
