"""A thread that owns one blocking resource and runs calls on it in order, off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["WorkerThread"]

T = TypeVar("T")

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[], Any]]


class WorkerThread:
    """Runs callables one at a time, in submission order, on a dedicated thread.

    A submitted call always runs, even if the task awaiting it is cancelled: a store relies on
    this to keep a rollback queued ahead of the next transaction. sqlite3 connections belong to
    the thread that made them, so each connection gets its own worker.
    """

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        # A daemon, so that a store nobody closed cannot hang interpreter exit; SQLite's WAL
        # makes a write cut short by exit roll back on the next open.
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()
        self._stopped = False

    async def call(self, function: Callable[[], T]) -> T:
        """Run ``function`` on the thread and return its result or raise its exception."""
        if self._stopped:
            raise RuntimeError(f"worker thread {self._thread.name} is stopped")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, future, function))
        return await future

    async def stop(self, last: Callable[[], object]) -> None:
        """Run ``last`` after every queued call, then end the thread. Idempotent."""
        if self._stopped:
            return
        try:
            await self.call(last)
        finally:
            self._stopped = True
            self._jobs.put(None)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            loop, future, function = job
            try:
                result = function()
            except BaseException as error:  # handed to the awaiting task, which decides
                _deliver(loop, future, None, error)
            else:
                _deliver(loop, future, result, None)


def _deliver(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    result: object,
    error: BaseException | None,
) -> None:
    def settle() -> None:
        if future.done():  # the awaiting task was cancelled
            return
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)

    # RuntimeError: the loop closed before the call finished, so nobody is waiting.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(settle)
