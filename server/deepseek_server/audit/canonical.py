"""The canonical encoding of an audit record, and so its hash.

The contract (``audit.proto``) defines a record's hash as the SHA-256 of the record serialized in
protobuf binary form, with ``hash`` cleared and fields in field-number order. This module writes
that encoding by hand instead of importing the generated ``AuditRecord``: the domain layer stays
free of ``*_pb2``, the offline verifier needs nothing but this file, and the bytes cannot drift
with a protobuf release. A unit test pins the output to ``AuditRecord.SerializeToString()``.

The record's fields split around the chain fields, so that everything except ``sequence`` and
``prev_hash`` is encoded once, outside the write transaction, and the transaction only
concatenates and hashes (:func:`encode_parts`, :func:`chain_hash`).
"""

from __future__ import annotations

import hashlib
import struct

from deepseek_server.audit.model import AuditRecord

_VARINT, _FIXED64, _LENGTH_DELIMITED = 0, 1, 2
_DOUBLE = struct.Struct("<d")


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int32/int64: negative values are sign-extended to ten bytes
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _key(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


_SEQUENCE = _key(1, _VARINT)
_STRINGS_2_TO_9 = {number: _key(number, _LENGTH_DELIMITED) for number in range(2, 10)}
_TIME = _key(3, _LENGTH_DELIMITED)
_SECONDS, _NANOS = _key(1, _VARINT), _key(2, _VARINT)
_STATUS_CODE = _key(10, _VARINT)
_DURATION = _key(11, _FIXED64)
_REQUEST_ID = _key(12, _LENGTH_DELIMITED)
_COUNTERS = {number: _key(number, _VARINT) for number in (13, 14, 15, 16)}
_SYSTEM = _key(17, _VARINT)
_DETAIL = _key(18, _LENGTH_DELIMITED)
_PREV_HASH = _key(19, _LENGTH_DELIMITED)
_STATUS = _key(21, _LENGTH_DELIMITED)


def _bytes_field(key: bytes, value: bytes) -> bytes:
    # proto3: a field holding its default value is not written.
    return key + _varint(len(value)) + value if value else b""


def _string_field(key: bytes, value: str) -> bytes:
    return _bytes_field(key, value.encode()) if value else b""


def _int_field(key: bytes, value: int) -> bytes:
    return key + _varint(value) if value else b""


def _timestamp(micros: int) -> bytes:
    seconds, fraction = divmod(micros, 1_000_000)
    body = _int_field(_SECONDS, seconds) + _int_field(_NANOS, fraction * 1000)
    return _TIME + _varint(len(body)) + body  # a set message field is written even if empty


def encode_parts(record: AuditRecord) -> tuple[bytes, bytes]:
    """The encoding of fields 2-18 and of field 21: everything but the chain fields."""
    double = _DOUBLE.pack(record.duration_ms)
    middle = b"".join(
        (
            _string_field(_STRINGS_2_TO_9[2], record.event_id),
            _timestamp(record.time_us),
            _string_field(_STRINGS_2_TO_9[4], record.user_id),
            _string_field(_STRINGS_2_TO_9[5], record.client_id),
            _string_field(_STRINGS_2_TO_9[6], record.action),
            _string_field(_STRINGS_2_TO_9[7], record.method),
            _string_field(_STRINGS_2_TO_9[8], record.resource_id),
            _string_field(_STRINGS_2_TO_9[9], record.ip_address),
            _int_field(_STATUS_CODE, record.status_code),
            # A double is present unless all its bits are zero (so -0.0 is written).
            _DURATION + double if double != bytes(8) else b"",
            _string_field(_REQUEST_ID, record.request_id),
            _int_field(_COUNTERS[13], record.messages_received),
            _int_field(_COUNTERS[14], record.messages_sent),
            _int_field(_COUNTERS[15], record.bytes_received),
            _int_field(_COUNTERS[16], record.bytes_sent),
            _int_field(_SYSTEM, int(record.system)),
            _string_field(_DETAIL, record.detail),
        )
    )
    return middle, _string_field(_STATUS, record.status)


def chain_hash(sequence: int, middle: bytes, prev_hash: bytes, tail: bytes) -> bytes:
    """The hash of a record from its encoded parts and its chain fields."""
    digest = hashlib.sha256(_int_field(_SEQUENCE, sequence))
    digest.update(middle)
    digest.update(_bytes_field(_PREV_HASH, prev_hash))
    digest.update(tail)
    return digest.digest()


def encode(record: AuditRecord) -> bytes:
    """The record's canonical protobuf encoding with ``hash`` cleared."""
    middle, tail = encode_parts(record)
    return (
        _int_field(_SEQUENCE, record.sequence)
        + middle
        + _bytes_field(_PREV_HASH, record.prev_hash)
        + tail
    )


def record_hash(record: AuditRecord) -> bytes:
    """SHA-256 of :func:`encode`: what the record's ``hash`` must be."""
    return hashlib.sha256(encode(record)).digest()
