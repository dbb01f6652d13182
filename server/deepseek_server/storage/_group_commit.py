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
        # Each caller's items, in arrival order, with the future of that caller's results.
        self._pending: list[tuple[Sequence[T], asyncio.Future[list[R]]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def call(self, item: T) -> R:
        """Run ``item`` (with others' items) and return its result."""
        (result,) = await self.call_many([item])
        return result

    async def call_many(self, items: Sequence[T]) -> list[R]:
        """Run ``items`` (possibly with others' items) and return their results.

        The items of one call run in the same batch unless they are more than a batch holds.
        """
        if not items:
            return []
        future: asyncio.Future[list[R]] = asyncio.get_running_loop().create_future()
        self._pending.append((items, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def drain(self) -> None:
        """Wait until everything handed in so far has run."""
        while self._flusher is not None:
            await asyncio.shield(self._flusher)

    async def _flush(self) -> None:
        try:
            while self._pending:
                callers = self._take_batch()
                batch = [item for items, _ in callers for item in items]
                try:
                    results = await self._run(batch)
                except Exception as error:
                    for _, future in callers:
                        if not future.done():
                            future.set_exception(error)
                else:
                    start = 0
                    for items, future in callers:
                        end = start + len(items)
                        if not future.done():
                            future.set_result(list(results[start:end]))
                        start = end
        finally:
            self._flusher = None

    def _take_batch(self) -> list[tuple[Sequence[T], asyncio.Future[list[R]]]]:
        """Whole callers, in order, up to ``max_batch`` items (a larger caller alone)."""
        taken, size = 0, 0
        for items, _ in self._pending:
            if taken and size + len(items) > self._max_batch:
                break
            taken += 1
            size += len(items)
        callers = self._pending[:taken]
        del self._pending[:taken]
        return callers


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
