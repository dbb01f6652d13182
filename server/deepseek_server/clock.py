"""Time as the gateway stores it: aware UTC datetimes and exact epoch microseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc_now() -> datetime:
    """The current time, UTC, microsecond precision."""
    return datetime.now(UTC)


def micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime, exactly (no float rounding)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    """The aware UTC datetime of epoch microseconds, exactly: the inverse of :func:`micros`."""
    return _EPOCH + timedelta(microseconds=value)
