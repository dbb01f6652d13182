"""The identity version: a counter in ``gateway_meta`` bumped by every change to clients or keys.

A running gateway polls it (one small read a second) instead of reading the database per call,
and reloads what it caches when it moves.
"""

from __future__ import annotations

import time

from deepseek_server.storage import Queryable

VERSION_KEY = "identity_version"


async def read_version(store: Queryable) -> int:
    """The current identity version (0 for a database never changed)."""
    row = await store.fetch_one(
        "SELECT value FROM gateway_meta WHERE key = :key", {"key": VERSION_KEY}
    )
    return int(row["value"]) if row is not None else 0


async def bump_version(tx: Queryable) -> None:
    """Move the identity version on; call inside the transaction that changes identity state."""
    await tx.execute(
        "UPDATE gateway_meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = :key",
        {"key": VERSION_KEY},
    )


def now_micros() -> int:
    """Wall-clock time as stored: microseconds since the Unix epoch."""
    return time.time_ns() // 1000
