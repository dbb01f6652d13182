"""Facts about this installation kept in the ``gateway_meta`` table."""

from __future__ import annotations

from ._base import Queryable
from ._errors import StoreError

__all__ = ["installation_id"]


async def installation_id(store: Queryable) -> str:
    """The random identifier made when this installation's database was created.

    Stable for the life of the database: name what the gateway creates outside it with it.
    """
    row = await store.fetch_one(
        "SELECT value FROM gateway_meta WHERE key = :key", {"key": "installation_id"}
    )
    if row is None:
        raise StoreError("gateway_meta holds no installation_id: the schema is not migrated")
    return str(row["value"])
