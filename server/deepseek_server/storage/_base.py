"""The storage interface: small enough for SQLite today and PostgreSQL (asyncpg) later.

Portable SQL is the contract. Domain code writes one SQL text that both databases accept:

- parameters are named, ``:name``, and passed as a mapping (a PostgreSQL store rewrites them
  to ``$n``); positional ``?`` is not part of the contract;
- values are ``int``, ``float``, ``str``, ``bytes`` or ``None``: flags are INTEGER 0/1,
  timestamps are INTEGER (epoch microseconds) or TEXT (ISO 8601, UTC);
- standard SQL plus what both accept: ``INSERT ... ON CONFLICT ... DO UPDATE/NOTHING``,
  ``RETURNING``, ``LIMIT``/``OFFSET``, ``COALESCE``; no ``INSERT OR REPLACE``, no ``rowid``;
- result columns have unique names (alias ``a.id AS job_id``): rows are mappings by name.

Schema differences live in per-dialect migration files, not in domain code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeAlias

__all__ = ["Params", "Queryable", "Row", "Store", "Transaction"]

Row: TypeAlias = Mapping[str, Any]
"""One result row, read-only, keyed by column name."""

Params: TypeAlias = Mapping[str, object]
"""Named statement parameters: ``{"id": 7}`` for ``... WHERE id = :id``."""


class Queryable(Protocol):
    """Runs single SQL statements. Both a :class:`Store` and a :class:`Transaction` are one."""

    async def execute(self, sql: str, params: Params | None = None) -> int:
        """Run one statement and return the number of rows it changed."""
        ...

    async def execute_many(self, sql: str, params_seq: Iterable[Params]) -> None:
        """Run one statement once per parameter mapping, all or nothing."""
        ...

    async def fetch_one(self, sql: str, params: Params | None = None) -> Row | None:
        """Run a query and return its first row, or ``None`` when it returns none."""
        ...

    async def fetch_all(self, sql: str, params: Params | None = None) -> list[Row]:
        """Run a query and return all its rows."""
        ...


class Transaction(Queryable, Protocol):
    """Statements that commit together, yielded by :meth:`Store.transaction`.

    Reads inside see the transaction's own writes; ``fetch_*`` may run ``... RETURNING``.
    Using a transaction after its ``async with`` block ends raises :class:`StoreError`.
    """


class Store(Queryable, Protocol):
    """A database holding the gateway's state, with its schema migrated to the latest version.

    On the store itself, :meth:`execute` and :meth:`execute_many` write (each atomically) and
    ``fetch_*`` only read, from a committed snapshot, without waiting for writers. A
    statement that writes and returns rows (``RETURNING``) runs inside :meth:`transaction`.
    """

    @property
    def schema_version(self) -> int:
        """The schema version the database is at: the highest applied migration."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """Open a write transaction: commit when the block ends, roll back if it raises.

        Write transactions run one at a time, in arrival order. The block must not wait on
        another write (on the store, or in a task it awaits): that would wait for itself.
        """
        ...

    async def close(self) -> None:
        """Finish the work in flight, refuse new work, and release the database. Idempotent."""
        ...
