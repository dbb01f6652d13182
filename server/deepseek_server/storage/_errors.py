"""The exceptions a store raises; no driver exception crosses the storage interface."""

from __future__ import annotations

__all__ = [
    "ConstraintError",
    "MigrationError",
    "StoreBusyError",
    "StoreClosedError",
    "StoreError",
]


class StoreError(Exception):
    """Base of every storage failure; the driver's exception, if any, is the ``__cause__``."""


class ConstraintError(StoreError):
    """A statement violated a constraint: UNIQUE, PRIMARY KEY, FOREIGN KEY, NOT NULL or CHECK.

    Domain code catches this to detect, for example, a repeated ``request_id``.
    """


class StoreBusyError(StoreError):
    """The database stayed locked by another process past the busy timeout; retrying may work."""


class StoreClosedError(StoreError):
    """The store was used after :meth:`Store.close` began."""


class MigrationError(StoreError):
    """The schema cannot be brought to the version this code expects; the store does not open."""
