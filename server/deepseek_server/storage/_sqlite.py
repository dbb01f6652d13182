"""The SQLite store: WAL, one writer connection, a few reader connections, each on a thread.

SQLite admits one writer at a time, so writes share one connection behind an asyncio lock and
run in arrival order; in WAL mode, readers on their own connections read the last committed
state while a write transaction is open. Every call runs on the connection's thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from . import _sqlite_ops as ops
from ._base import Params, Row, Transaction
from ._errors import StoreClosedError, StoreError
from ._migrations import Migration, load_migrations
from ._thread import WorkerThread

__all__ = ["SqliteOptions", "SqliteStore"]

_log = logging.getLogger(__name__)

T = TypeVar("T")
_Operation = Callable[[sqlite3.Connection], T]


@dataclass(frozen=True, slots=True)
class SqliteOptions:
    """How the SQLite store uses its file. The defaults suit the embedded gateway."""

    synchronous: str = "NORMAL"
    """``NORMAL``: a commit survives a crash of the process, and of the machine except for the
    last few commits (about 55k single-row commits/s here). ``FULL``: fsync on every commit,
    survives power loss (about 7k/s)."""

    busy_timeout: float = 5.0
    """Seconds to wait for another process's lock before :class:`StoreBusyError`."""

    readers: int = 2
    """Reader connections, each with a thread: how many reads run at once."""

    def __post_init__(self) -> None:
        if self.synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be NORMAL or FULL, not {self.synchronous!r}")
        if self.busy_timeout < 0:
            raise ValueError(f"busy_timeout must be >= 0 seconds, not {self.busy_timeout}")
        if self.readers < 1:
            raise ValueError(f"readers must be at least 1, not {self.readers}")


class _Connection:
    """A sqlite3 connection and the thread it lives on."""

    def __init__(self, worker: WorkerThread, connection: sqlite3.Connection) -> None:
        self._worker = worker
        self._connection = connection

    @classmethod
    async def open(
        cls,
        path: Path,
        name: str,
        busy_timeout: float,
        configure: Callable[[sqlite3.Connection], None],
    ) -> _Connection:
        def connect() -> sqlite3.Connection:
            # isolation_level=None: the store says BEGIN and COMMIT itself.
            connection = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
            try:
                configure(connection)
            except BaseException:
                connection.close()
                raise
            return connection

        worker = WorkerThread(name)
        try:
            return cls(worker, await worker.call(connect))
        except BaseException:
            await worker.stop(lambda: None)
            raise

    async def run(self, operation: _Operation[T]) -> T:
        return await self._worker.call(partial(operation, self._connection))

    async def close(self, optimize: bool = False) -> None:
        def close() -> None:
            try:
                if optimize:
                    # Recommended before closing a long-lived connection: refreshes the
                    # statistics the query planner uses, cheaply.
                    self._connection.execute("PRAGMA optimize")
            finally:
                self._connection.close()

        await self._worker.stop(close)


class _SqliteTransaction:
    """A write transaction on the writer connection; BEGIN rides on its first statement."""

    __slots__ = ("_began", "_ended", "_store", "_writer")

    def __init__(self, store: SqliteStore, writer: _Connection) -> None:
        self._store = store
        self._writer = writer
        self._began = False
        self._ended = False

    async def execute(self, sql: str, params: Params | None = None) -> int:
        return await self._run(partial(ops.execute, sql=sql, params=params))

    async def execute_many(self, sql: str, params_seq: Iterable[Params]) -> None:
        await self._run(partial(ops.execute_many, sql=sql, params_seq=list(params_seq)))

    async def fetch_one(self, sql: str, params: Params | None = None) -> Row | None:
        row: Row | None = await self._run(partial(ops.fetch_one, sql=sql, params=params))
        return row

    async def fetch_all(self, sql: str, params: Params | None = None) -> list[Row]:
        return await self._run(partial(ops.fetch_all, sql=sql, params=params))

    async def _run(self, operation: _Operation[T]) -> T:
        if self._ended:
            raise StoreError("the transaction has ended; open a new one")
        began = self._began
        self._began = True

        def in_transaction(connection: sqlite3.Connection) -> T:
            if not began:
                connection.execute("BEGIN IMMEDIATE")
            elif not connection.in_transaction:
                raise StoreError("SQLite rolled this transaction back after an earlier error")
            return operation(connection)

        return await self._store._call(self._writer, in_transaction)

    async def _finish(self, *, commit: bool) -> None:
        self._ended = True
        if not self._began:
            return
        if not commit:
            await self._store._call(self._writer, ops.rollback)
            return

        def commit_open_transaction(connection: sqlite3.Connection) -> None:
            if not connection.in_transaction:
                raise StoreError("SQLite rolled this transaction back after an earlier error")
            ops.commit(connection)

        await self._store._call(self._writer, commit_open_transaction)


class SqliteStore:
    """The :class:`~deepseek_server.storage.Store` on an SQLite file in WAL mode.

    Open with :meth:`open`; close with :meth:`close` (or use ``async with``).
    """

    def __init__(
        self,
        path: Path,
        writer: _Connection,
        readers: Sequence[_Connection],
        schema_version: int,
    ) -> None:
        """Use :meth:`open`, which migrates the schema and makes the connections."""
        self._path = path
        self._database = str(path)
        self._writer = writer
        self._readers = tuple(readers)
        self._idle_readers: asyncio.Queue[_Connection] = asyncio.Queue()
        for reader in self._readers:
            self._idle_readers.put_nowait(reader)
        self._write_lock = asyncio.Lock()
        self._write_owner: asyncio.Task[Any] | None = None
        self._schema_version = schema_version
        self._closing: asyncio.Future[None] | None = None

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        options: SqliteOptions | None = None,
        *,
        migrations: Sequence[Migration] | None = None,
    ) -> SqliteStore:
        """Open (creating it and its directory if needed) and migrate the database at ``path``.

        ``migrations`` replaces the packaged ``migrations/sqlite`` files; it exists for tests.
        Raises :class:`MigrationError` when the schema cannot be brought up to date, and
        :class:`StoreError` when the file cannot be opened as a WAL database.
        """
        options = options or SqliteOptions()
        try:
            path = await asyncio.to_thread(_prepare_directory, Path(path))
        except OSError as error:
            raise StoreError(f"cannot create the directory of database {path}: {error}") from error
        database = str(path)
        known = migrations
        if known is None:
            known = await asyncio.to_thread(load_migrations, "sqlite")

        opened: list[_Connection] = []
        try:
            writer = await _Connection.open(
                path,
                "sqlite-writer",
                options.busy_timeout,
                partial(ops.configure_writer, synchronous=options.synchronous, database=database),
            )
            opened.append(writer)
            version = await writer.run(
                partial(ops.apply_migrations, known=known, database=database)
            )
            for number in range(options.readers):
                reader = await _Connection.open(
                    path, f"sqlite-reader-{number}", options.busy_timeout, ops.configure_reader
                )
                opened.append(reader)
        except (sqlite3.Error, sqlite3.Warning) as error:
            await _close_all(opened)
            raise ops.translate_error(error, database) from error
        except BaseException:
            await _close_all(opened)
            raise
        _log.debug("opened %s at schema version %d", database, version)
        return cls(path, writer, opened[1:], version)

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    @property
    def schema_version(self) -> int:
        """The schema version the database is at: the highest applied migration."""
        return self._schema_version

    async def execute(self, sql: str, params: Params | None = None) -> int:
        """Run one writing statement in a transaction of its own; return rows changed."""
        async with self._writing() as writer:
            return await self._call(writer, partial(ops.execute, sql=sql, params=params))

    async def execute_many(self, sql: str, params_seq: Iterable[Params]) -> None:
        """Run one statement per parameter mapping, in a single transaction."""
        params_list = list(params_seq)
        async with self._writing() as writer:
            await self._call(
                writer, partial(ops.execute_many_atomically, sql=sql, params_seq=params_list)
            )

    async def fetch_one(self, sql: str, params: Params | None = None) -> Row | None:
        """Run a read-only query on a reader; return the first row or ``None``."""
        row: Row | None = await self._read(partial(ops.fetch_one, sql=sql, params=params))
        return row

    async def fetch_all(self, sql: str, params: Params | None = None) -> list[Row]:
        """Run a read-only query on a reader; return all rows."""
        return await self._read(partial(ops.fetch_all, sql=sql, params=params))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """Open a write transaction: commit when the block ends, roll back if it raises."""
        async with self._writing() as writer:
            transaction = _SqliteTransaction(self, writer)
            try:
                yield transaction
            except BaseException:
                try:
                    await transaction._finish(commit=False)
                except StoreError:
                    _log.warning("rollback failed on %s", self._database, exc_info=True)
                raise
            await transaction._finish(commit=True)

    async def close(self) -> None:
        """Refuse new work, wait for the work in flight, then close the connections.

        Idempotent; concurrent calls all wait for the one closing.
        """
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close())
        await asyncio.shield(self._closing)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _close(self) -> None:
        # Lock and queue are FIFO: every writer and reader admitted before close() runs first.
        async with self._write_lock:
            for _ in self._readers:
                await self._idle_readers.get()
            await _close_all([self._writer, *self._readers], optimize_first=True)
        _log.debug("closed %s", self._database)

    def _check_open(self) -> None:
        if self._closing is not None:
            raise StoreClosedError(f"store {self._database} is closed")

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[_Connection]:
        self._check_open()
        task = asyncio.current_task()
        if task is not None and task is self._write_owner:
            raise StoreError(
                "this task is inside a transaction: run the statement on the Transaction "
                "(waiting for the store's writer here would wait for itself)"
            )
        async with self._write_lock:
            self._write_owner = task
            try:
                yield self._writer
            finally:
                self._write_owner = None

    async def _read(self, operation: _Operation[T]) -> T:
        self._check_open()
        reader = await self._idle_readers.get()
        try:
            return await self._call(reader, operation)
        finally:
            self._idle_readers.put_nowait(reader)

    async def _call(self, connection: _Connection, operation: _Operation[T]) -> T:
        try:
            return await connection.run(operation)
        except (sqlite3.Error, sqlite3.Warning) as error:
            raise ops.translate_error(error, self._database) from error


def _prepare_directory(path: Path) -> Path:
    path = path.absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


async def _close_all(connections: Sequence[_Connection], *, optimize_first: bool = False) -> None:
    results = await asyncio.gather(
        *(
            connection.close(optimize=optimize_first and index == 0)
            for index, connection in enumerate(connections)
        ),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, BaseException):
            _log.warning("closing a SQLite connection failed", exc_info=result)
