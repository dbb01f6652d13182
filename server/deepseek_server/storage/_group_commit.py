"""Batching of concurrent calls; group commit: concurrent writers share one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from ._base import Store, Transaction

T = TypeVar("T")
R = TypeVar("R")

BatchWriter = Callable[[Transaction, list[T]], Awaitable[Sequence[R]]]


class Batcher(Generic[T, R]):
    """Runs items handed in by many tasks in batches: whatever arrives while a batch runs
    goes into the next one.

    A lone caller is served at once (no added latency); under load, N concurrent callers cost
    about one run of ``run`` instead of N. ``run`` receives a batch in arrival order and returns
    one result per item. An item handed in is run even if its caller is cancelled meanwhile.
    """

    def __init__(
        self, run: Callable[[list[T]], Awaitable[Sequence[R]]], *, max_batch: int = 5000
    ) -> None:
        self._run = run
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def call(self, item: T) -> R:
        """Run ``item`` (with others' items) and return its result."""
        (result,) = await self.call_many([item])
        return result

    async def call_many(self, items: Sequence[T]) -> list[R]:
        """Run ``items`` (possibly with others' items) and return their results."""
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in items]
        self._pending.extend(zip(items, futures, strict=True))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return list(await asyncio.gather(*futures))

    async def drain(self) -> None:
        """Wait until everything handed in so far has run."""
        while self._flusher is not None:
            await asyncio.shield(self._flusher)

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    results = await self._run([item for item, _ in batch])
                except Exception as error:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                else:
                    for (_, future), result in zip(batch, results, strict=True):
                        if not future.done():
                            future.set_result(result)
        finally:
            self._flusher = None


class GroupCommit(Batcher[T, R]):
    """Group commit: items from concurrent writers share one transaction, and so one commit.

    ``write`` runs a batch inside a transaction; see :class:`Batcher` for the batching.
    """

    def __init__(self, store: Store, write: BatchWriter[T, R], *, max_batch: int = 5000) -> None:
        async def in_one_transaction(items: list[T]) -> Sequence[R]:
            async with store.transaction() as tx:
                return await write(tx, items)

        super().__init__(in_one_transaction, max_batch=max_batch)

    async def commit(self, item: T) -> R:
        """Write ``item`` durably and return what ``write`` made of it."""
        return await self.call(item)

    async def commit_many(self, items: Sequence[T]) -> list[R]:
        """Write ``items`` durably (possibly with others' items) and return their results."""
        return await self.call_many(items)
