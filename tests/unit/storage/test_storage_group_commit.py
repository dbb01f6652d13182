"""Group commit: one transaction for many concurrent writers, and nothing lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from deepseek_server.storage import Batcher, GroupCommit, SqliteStore, Transaction


@pytest.fixture
async def store(tmp_path: Path) -> SqliteStore:
    opened = await SqliteStore.open(tmp_path / "group.db")
    await opened.execute("CREATE TABLE items (n INTEGER PRIMARY KEY, batch INTEGER NOT NULL)")
    return opened


async def test_concurrent_writers_share_transactions_and_each_gets_its_result(
    store: SqliteStore,
) -> None:
    batches: list[int] = []

    async def write(tx: Transaction, items: list[int]) -> list[str]:
        batches.append(len(items))
        await tx.execute_many(
            "INSERT INTO items (n, batch) VALUES (:n, :batch)",
            [{"n": n, "batch": len(batches)} for n in items],
        )
        return [f"wrote {n}" for n in items]

    committer: GroupCommit[int, str] = GroupCommit(store, write)
    results = await asyncio.gather(*(committer.commit(n) for n in range(200)))

    assert results == [f"wrote {n}" for n in range(200)]
    rows = await store.fetch_all("SELECT n FROM items ORDER BY n")
    assert [row["n"] for row in rows] == list(range(200))
    assert sum(batches) == 200
    assert len(batches) < 20  # without grouping this would be 200 transactions
    await store.close()


async def test_a_failed_batch_fails_its_writers_and_later_batches_still_commit(
    store: SqliteStore,
) -> None:
    async def write(tx: Transaction, items: list[int]) -> list[int]:
        await tx.execute_many(
            "INSERT INTO items (n, batch) VALUES (:n, 0)", [{"n": n} for n in items]
        )
        return items

    committer: GroupCommit[int, int] = GroupCommit(store, write)
    await committer.commit(1)

    with pytest.raises(Exception, match="UNIQUE"):
        await committer.commit(1)
    assert await committer.commit(2) == 2
    rows = await store.fetch_all("SELECT n FROM items ORDER BY n")
    assert [row["n"] for row in rows] == [1, 2]
    await store.close()


async def test_an_item_whose_caller_is_cancelled_is_still_written(store: SqliteStore) -> None:
    release = asyncio.Event()

    async def write(tx: Transaction, items: list[int]) -> list[int]:
        await release.wait()
        await tx.execute_many(
            "INSERT INTO items (n, batch) VALUES (:n, 0)", [{"n": n} for n in items]
        )
        return items

    committer: GroupCommit[int, int] = GroupCommit(store, write)
    caller = asyncio.ensure_future(committer.commit(7))
    await asyncio.sleep(0)
    caller.cancel()
    release.set()
    await committer.drain()

    assert caller.cancelled()
    assert await store.fetch_one("SELECT n FROM items") == {"n": 7}
    await store.close()


async def test_batches_take_whole_callers_up_to_the_limit() -> None:
    batches: list[list[int]] = []

    async def run(items: list[int]) -> list[int]:
        batches.append(items)
        await asyncio.sleep(0)
        return [item * 10 for item in items]

    batcher: Batcher[int, int] = Batcher(run, max_batch=4)
    first = asyncio.create_task(batcher.call_many([1]))
    await asyncio.sleep(0)  # the first batch is running: the others queue behind it
    rest = [batcher.call_many([2, 3]), batcher.call_many([4, 5]), batcher.call_many([6] * 6)]
    results = await asyncio.gather(first, *rest, batcher.call_many([]))

    assert results == [[10], [20, 30], [40, 50], [60] * 6, []]
    # One caller's items are never split; a caller larger than the limit runs alone.
    assert batches == [[1], [2, 3, 4, 5], [6] * 6]
