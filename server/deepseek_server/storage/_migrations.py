"""Versioned schema migrations: loading the files and deciding which ones a database needs.

A migration is a file ``migrations/<dialect>/NNNN_<name>.sql`` shipped as package data.
Versions start at 1 and leave no gaps. A released file never changes: its checksum is recorded
when it is applied, and a database whose recorded checksum differs refuses to open. Applying
them is the store's job (each in its own transaction, recorded in ``schema_migrations``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources

from ._errors import MigrationError

__all__ = [
    "MIGRATIONS_TABLE_SQL",
    "AppliedMigration",
    "Migration",
    "check_sequence",
    "load_migrations",
    "pending_migrations",
]

MIGRATIONS_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at TEXT NOT NULL
)
"""
"""The bookkeeping table; portable SQL, created before the first migration runs."""

_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema change: a version, a name, and the SQL script that performs it."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the script with line endings normalised, as hex."""
        normalised = self.sql.replace("\r\n", "\n").encode()
        return hashlib.sha256(normalised).hexdigest()


@dataclass(frozen=True, slots=True)
class AppliedMigration:
    """A row of ``schema_migrations``: a migration as it was when applied."""

    version: int
    name: str
    checksum: str


def load_migrations(dialect: str) -> tuple[Migration, ...]:
    """Read the migrations of ``dialect`` (``"sqlite"``) from package data, in version order.

    Reads files: call it from a thread. Raises :class:`MigrationError` on a misnamed file, a
    duplicate version or a gap.
    """
    directory = resources.files(__package__).joinpath("migrations", dialect)
    migrations = []
    for entry in directory.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            raise MigrationError(
                f"migration file {dialect}/{entry.name} is not named NNNN_lower_snake.sql"
            )
        sql = entry.read_text(encoding="utf-8")
        migrations.append(Migration(int(match["version"]), match["name"], sql))
    migrations.sort(key=lambda migration: migration.version)
    check_sequence(migrations)
    return tuple(migrations)


def check_sequence(migrations: Sequence[Migration]) -> None:
    """Require versions 1, 2, ..., n in order: no duplicate, no gap."""
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            found = ", ".join(f"{m.version:04d}_{m.name}" for m in migrations)
            raise MigrationError(
                f"migrations must be numbered 1..n without gaps or duplicates; "
                f"expected version {expected}, found {migration.version} (all: {found})"
            )


def pending_migrations(
    known: Sequence[Migration], applied: Iterable[AppliedMigration], database: str
) -> list[Migration]:
    """Return the migrations ``database`` still needs, oldest first.

    ``known`` must have passed :func:`check_sequence`. Raises :class:`MigrationError`, naming
    the database and the versions, when the database is newer than ``known``, when its
    applied versions have a gap, or when an applied migration's checksum no longer matches.
    """
    by_version: Mapping[int, Migration] = {m.version: m for m in known}
    applied_versions = sorted(applied, key=lambda row: row.version)
    latest_known = known[-1].version if known else 0
    for expected, row in enumerate(applied_versions, start=1):
        if row.version > latest_known:
            raise MigrationError(
                f"database {database} is at schema version {applied_versions[-1].version}, "
                f"newer than this gateway's latest migration {latest_known}: run a gateway at "
                f"least as new as the one that last migrated it, or restore a backup"
            )
        if row.version != expected:
            raise MigrationError(
                f"database {database} records migration {row.version} without "
                f"migration {expected}; its schema_migrations table was edited"
            )
        migration = by_version[row.version]
        if row.checksum != migration.checksum:
            raise MigrationError(
                f"database {database}: migration {row.version} ({row.name}) was applied with "
                f"checksum {row.checksum[:12]}, but the file now has {migration.checksum[:12]}; "
                f"a released migration must not change: add a new one instead"
            )
    return list(known[len(applied_versions) :])
