"""Group commit: concurrent writers share one transaction, and so one commit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from ._base import Store, Transaction

T = TypeVar("T")
R = TypeVar("R")

BatchWriter = Callable[[Transaction, list[T]], Awaitable[Sequence[R]]]


class GroupCommit(Generic[T, R]):
    """Writes items handed in by many tasks, batching whatever arrives while a commit runs.

    A lone writer is committed at once (no added latency); under load, every item that arrives
    during a commit goes into the next one, so N concurrent writers cost about one transaction
    instead of N. ``write`` receives the batch in arrival order and returns one result per item.
    An item handed in is written even if its caller is cancelled while waiting.
    """

    def __init__(self, store: Store, write: BatchWriter[T, R], *, max_batch: int = 5000) -> None:
        self._store = store
        self._write = write
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def commit(self, item: T) -> R:
        """Write ``item`` durably and return what ``write`` made of it."""
        (result,) = await self.commit_many([item])
        return result

    async def commit_many(self, items: Sequence[T]) -> list[R]:
        """Write ``items`` durably (possibly with others' items) and return their results."""
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in items]
        self._pending.extend(zip(items, futures, strict=True))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return list(await asyncio.gather(*futures))

    async def drain(self) -> None:
        """Wait until everything handed in so far is written."""
        while self._flusher is not None:
            await asyncio.shield(self._flusher)

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    async with self._store.transaction() as tx:
                        results = await self._write(tx, [item for item, _ in batch])
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
