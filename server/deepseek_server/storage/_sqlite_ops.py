"""What runs on a SQLite connection's own thread: statements, set-up, migrations, error mapping.

Every function here blocks; the store calls each through its connection's worker thread, one
call per operation, because a thread hop costs about 100 µs on the target machines.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ._base import Params
from ._errors import ConstraintError, MigrationError, StoreBusyError, StoreError
from ._migrations import MIGRATIONS_TABLE_SQL, AppliedMigration, Migration, pending_migrations

__all__ = [
    "apply_migrations",
    "commit",
    "configure_reader",
    "configure_writer",
    "execute",
    "execute_many",
    "execute_many_atomically",
    "fetch_all",
    "fetch_one",
    "rollback",
    "split_statements",
    "translate_error",
]

_NO_PARAMS: Params = {}


def dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    """Row factory: a row as a dict keyed by column name (sqlite3.Row iterates over values)."""
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


def configure_writer(connection: sqlite3.Connection, synchronous: str, database: str) -> None:
    """Switch the database to WAL and set the writer's durability and integrity checks."""
    (mode,) = connection.execute("PRAGMA journal_mode=WAL").fetchone()
    if str(mode).lower() != "wal":
        raise StoreError(
            f"database {database}: SQLite refused WAL journal mode (it kept {mode!r}); "
            f"WAL needs a local filesystem with shared memory"
        )
    connection.execute(f"PRAGMA synchronous={synchronous}")
    connection.execute("PRAGMA foreign_keys=ON")
    connection.row_factory = dict_row


def configure_reader(connection: sqlite3.Connection) -> None:
    """Make a reader refuse writes, so that a write sent to it fails instead of contending."""
    connection.execute("PRAGMA query_only=ON")
    connection.row_factory = dict_row


def execute(connection: sqlite3.Connection, sql: str, params: Params | None) -> int:
    """Run one statement; return the number of rows it changed."""
    cursor = connection.execute(sql, params or _NO_PARAMS)
    try:
        return cursor.rowcount
    finally:
        cursor.close()


def execute_many(connection: sqlite3.Connection, sql: str, params_seq: Sequence[Params]) -> None:
    """Run one statement per parameter mapping, in the caller's transaction.

    A single-row ``INSERT ... VALUES (:a, :b)`` runs as multi-row INSERTs instead: sqlite3
    releases the GIL around every step, and under load each release is a handoff to another
    thread and back (tens of µs on the target machines), so one step per up to 64 rows beats
    one per row. The outcome is the same: all rows, or an error and none of this statement's.
    """
    shape = _multi_row_shape(sql) if len(params_seq) > 1 else None
    if shape is None:
        connection.executemany(sql, params_seq).close()
        return
    names = shape[1]
    start = 0
    while start < len(params_seq):
        rows = min(_MAX_ROWS_PER_INSERT, 1 << (len(params_seq) - start).bit_length() - 1)
        values: list[object] = []
        for params in params_seq[start : start + rows]:
            try:
                values.extend([params[name] for name in names])
            except KeyError as missing:
                raise sqlite3.ProgrammingError(
                    f"You did not supply a value for binding parameter :{missing.args[0]}."
                ) from None
        connection.execute(_multi_row_insert(sql, rows), values).close()
        start += rows


_MAX_ROWS_PER_INSERT = 64  # x at most ~30 columns stays far below SQLite's 32,766 variables
_SINGLE_ROW_INSERT = re.compile(
    r"(?is)^\s*(INSERT\s+INTO\s.+?\bVALUES\s*)\(\s*(:\w+(?:\s*,\s*:\w+)*)\s*\)(.*)$"
)


@functools.lru_cache(maxsize=256)
def _multi_row_shape(sql: str) -> tuple[str, tuple[str, ...], str] | None:
    """``(head, parameter names, tail)`` of a single-row INSERT of plain parameters, else None."""
    match = _SINGLE_ROW_INSERT.match(sql)
    if match is None or ";" in match.group(3):
        return None
    names = tuple(name.strip()[1:] for name in match.group(2).split(","))
    return match.group(1), names, match.group(3)


@functools.lru_cache(maxsize=256)
def _multi_row_insert(sql: str, rows: int) -> str:
    """The INSERT of ``rows`` rows with positional parameters, in the order of the names."""
    shape = _multi_row_shape(sql)
    assert shape is not None
    head, names, tail = shape
    row = "(" + ", ".join("?" * len(names)) + ")"
    return head + ", ".join([row] * rows) + tail


def execute_many_atomically(
    connection: sqlite3.Connection, sql: str, params_seq: Sequence[Params]
) -> None:
    """Run one statement per parameter mapping in a transaction of its own."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        execute_many(connection, sql, params_seq)
        connection.execute("COMMIT")
    except BaseException:
        rollback(connection)
        raise


def fetch_one(connection: sqlite3.Connection, sql: str, params: Params | None) -> Any:
    """Run a query; return its first row or None. Closing the cursor ends the read snapshot."""
    cursor = connection.execute(sql, params or _NO_PARAMS)
    try:
        return cursor.fetchone()
    finally:
        cursor.close()


def fetch_all(connection: sqlite3.Connection, sql: str, params: Params | None) -> list[Any]:
    """Run a query; return all its rows."""
    cursor = connection.execute(sql, params or _NO_PARAMS)
    try:
        return cursor.fetchall()
    finally:
        cursor.close()


def commit(connection: sqlite3.Connection) -> None:
    """Commit the open transaction; if that fails, roll it back and raise."""
    try:
        connection.execute("COMMIT")
    except BaseException:
        rollback(connection)
        raise


def rollback(connection: sqlite3.Connection) -> None:
    """Roll back the open transaction, if any (SQLite ends some on its own after errors)."""
    if connection.in_transaction:
        connection.execute("ROLLBACK")


def split_statements(script: str) -> list[str]:
    """Split a SQL script into statements, using SQLite's own tokenizer to find their ends.

    Needed because ``executescript`` commits before it runs, which would take each migration
    out of its transaction. Semicolons in strings, comments and trigger bodies are handled.
    """
    statements = []
    buffer = ""
    pieces = script.split(";")
    for index, piece in enumerate(pieces):
        buffer += piece if index == len(pieces) - 1 else piece + ";"
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())  # a last statement without ';', or a comment
    return statements


def apply_migrations(
    connection: sqlite3.Connection, known: Sequence[Migration], database: str
) -> int:
    """Bring the schema up to date, one transaction per migration; return the schema version.

    The applied versions are re-read under the write lock before each migration, so two
    processes opening one database at once apply each migration once.
    """
    connection.execute(MIGRATIONS_TABLE_SQL)
    while True:
        connection.execute("BEGIN IMMEDIATE")
        try:
            rows = connection.execute(
                "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
            ).fetchall()
            applied = [AppliedMigration(r["version"], r["name"], r["checksum"]) for r in rows]
            pending = pending_migrations(known, applied, database)
            if not pending:
                rollback(connection)
                return applied[-1].version if applied else 0
            _apply(connection, pending[0], database)
            connection.execute("COMMIT")
        except BaseException:
            rollback(connection)
            raise


def _apply(connection: sqlite3.Connection, migration: Migration, database: str) -> None:
    try:
        for statement in split_statements(migration.sql):
            connection.execute(statement)
    except sqlite3.Error as error:
        raise MigrationError(
            f"database {database}: migration {migration.version} ({migration.name}) "
            f"failed and was rolled back: {error}"
        ) from error
    connection.execute(
        "INSERT INTO schema_migrations (version, name, checksum, applied_at)"
        " VALUES (:version, :name, :checksum, :applied_at)",
        {
            "version": migration.version,
            "name": migration.name,
            "checksum": migration.checksum,
            "applied_at": datetime.now(UTC).isoformat(timespec="microseconds"),
        },
    )


def translate_error(error: sqlite3.Error | sqlite3.Warning, database: str) -> StoreError:
    """The storage exception for a sqlite3 one (the caller chains it ``from`` the original)."""
    code = getattr(error, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if isinstance(error, sqlite3.IntegrityError):
        return ConstraintError(str(error))
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return StoreBusyError(f"database {database} stayed locked: {error}")
    if primary == sqlite3.SQLITE_READONLY:
        return StoreError(
            f"{error} (fetch_one/fetch_all on the store only read; write with execute(), "
            f"or run a statement with RETURNING inside transaction())"
        )
    return StoreError(f"database {database}: {error}")
