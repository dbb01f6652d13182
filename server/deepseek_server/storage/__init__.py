"""The gateway's durable state: an async SQL store with versioned schema migrations.

The domain layer depends on :class:`Store` and writes portable SQL (see ``_base``); SQLite is
the embedded implementation, and a PostgreSQL one can satisfy the same interface.

    store = await open_store(settings.storage.database_path)
    async with store.transaction() as tx:
        await tx.execute("UPDATE jobs SET state = :state WHERE id = :id", {...})
    await store.close()
"""

from ._base import Params, Queryable, Row, Store, Transaction
from ._errors import (
    ConstraintError,
    MigrationError,
    StoreBusyError,
    StoreClosedError,
    StoreError,
)
from ._group_commit import Batcher, GroupCommit
from ._meta import installation_id
from ._open import open_store
from ._sqlite import SqliteOptions, SqliteStore

__all__ = [
    "Batcher",
    "ConstraintError",
    "GroupCommit",
    "MigrationError",
    "Params",
    "Queryable",
    "Row",
    "SqliteOptions",
    "SqliteStore",
    "Store",
    "StoreBusyError",
    "StoreClosedError",
    "StoreError",
    "Transaction",
    "installation_id",
    "open_store",
]
