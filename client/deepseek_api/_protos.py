"""Small conversions between protobuf values and Python ones, shared by the SDK's models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf import duration_pb2, timestamp_pb2
from google.protobuf.descriptor import EnumDescriptor
from google.protobuf.message import Message


def enum_name(enum_type: EnumDescriptor, number: int, prefix: str) -> str:
    """The name of an enum value without its prefix: ``JOB_STATE_QUEUED`` -> ``"QUEUED"``.

    Names come from the generated enum, so they follow the contract. A value this SDK does
    not know (a newer server) reads as its number, e.g. ``"7"``, rather than failing.
    """
    value = enum_type.values_by_number.get(number)
    return str(number) if value is None else value.name.removeprefix(prefix)


def enum_name_or_none(enum_type: EnumDescriptor, number: int, prefix: str) -> str | None:
    """Like :func:`enum_name`, but None for the zero value (``*_UNSPECIFIED``)."""
    return enum_name(enum_type, number, prefix) if number else None


def enum_number(enum_type: EnumDescriptor, name: str, prefix: str, what: str) -> int:
    """The number of an enum value named with or without its prefix, in any case.

    Raises:
        ValueError: if no value of ``enum_type`` has this name, or it names the zero
            (``*_UNSPECIFIED``) value; the message names ``what``.
    """
    full_name = name.upper()
    if not full_name.startswith(prefix):
        full_name = prefix + full_name
    value = enum_type.values_by_name.get(full_name)
    if value is None or value.number == 0:
        known = ", ".join(v.name.removeprefix(prefix) for v in enum_type.values if v.number)
        raise ValueError(f"{what}: unknown value {name!r}; expected one of {known}")
    return value.number


def datetime_field(message: Message, field: str) -> datetime | None:
    """A ``Timestamp`` field as an aware UTC datetime, or None when it is unset."""
    if not message.HasField(field):
        return None
    timestamp: timestamp_pb2.Timestamp = getattr(message, field)
    return timestamp.ToDatetime(tzinfo=UTC)


def timedelta_of(duration: duration_pb2.Duration) -> timedelta:
    """A ``Duration`` as a timedelta."""
    return duration.ToTimedelta()


def timestamp_of(moment: datetime, what: str) -> timestamp_pb2.Timestamp:
    """An aware datetime as a ``Timestamp``.

    Raises:
        ValueError: if ``moment`` is naive: its time zone would be a guess.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, not {moment!r}")
    timestamp = timestamp_pb2.Timestamp()
    timestamp.FromDatetime(moment)
    return timestamp
