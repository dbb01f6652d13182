"""google.protobuf.Timestamp to and from the gateway's times (aware UTC datetimes, epoch µs)."""

from __future__ import annotations

from datetime import datetime

from google.protobuf import timestamp_pb2

from deepseek_server.clock import from_micros, micros


def timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    """The Timestamp of an aware datetime (built directly: FromDatetime costs several times
    more, and a batch reply holds thousands)."""
    return timestamp_of_micros(micros(moment))


def timestamp_of_micros(time_us: int) -> timestamp_pb2.Timestamp:
    """The Timestamp of epoch microseconds."""
    seconds, fraction = divmod(time_us, 1_000_000)
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=fraction * 1000)


def micros_of(stamp: timestamp_pb2.Timestamp) -> int:
    """Epoch microseconds of a Timestamp, rounded up, so that "at or after" and "strictly
    before" bounds keep their meaning for sub-microsecond values."""
    return stamp.seconds * 1_000_000 + -(-stamp.nanos // 1000)


def datetime_of(stamp: timestamp_pb2.Timestamp) -> datetime:
    """The aware UTC datetime of a Timestamp (to the microsecond, rounded up)."""
    return from_micros(micros_of(stamp))
