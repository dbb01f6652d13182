"""Choosing and opening a store from a path or URL."""

from __future__ import annotations

import os

from ._base import Store
from ._errors import StoreError
from ._sqlite import SqliteOptions, SqliteStore

__all__ = ["open_store"]


async def open_store(
    url_or_path: str | os.PathLike[str], options: SqliteOptions | None = None
) -> Store:
    """Open the store at ``url_or_path`` with its schema migrated to the latest version.

    Accepts a file path (``var/gateway.db``) or an SQLite URL in SQLAlchemy's form:
    ``sqlite:///relative.db``, ``sqlite:////absolute/path.db``. ``postgresql://`` URLs are
    reserved for the PostgreSQL store, not yet written. Missing directories are created.
    Raises :class:`StoreError` (or its :class:`MigrationError`) when the store cannot open.
    """
    path = _sqlite_path(url_or_path)
    return await SqliteStore.open(path, options)


def _sqlite_path(url_or_path: str | os.PathLike[str]) -> str:
    text = os.fspath(url_or_path)
    if "://" in text:
        scheme, _, rest = text.partition("://")
        if scheme in ("postgresql", "postgres"):
            raise StoreError("the PostgreSQL store is not implemented yet; use an SQLite file")
        if scheme != "sqlite":
            raise StoreError(f"unknown store URL scheme {scheme!r} in {text!r}")
        if not rest.startswith("/") or not rest[1:]:
            raise StoreError(
                f"an SQLite URL is sqlite:///relative.db or sqlite:////abs.db: {text!r}"
            )
        text = rest[1:]
    if text in ("", ":memory:") or text.startswith("file:"):
        raise StoreError(
            f"the SQLite store needs a plain file path, not {text!r}: WAL mode and separate "
            f"reader connections need a file (use a temporary one in tests)"
        )
    return text
