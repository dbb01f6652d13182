"""The hand-written canonical encoding is exactly the contract's protobuf encoding."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

import pytest
from google.protobuf import timestamp_pb2

from deepseek.hpc.v1 import audit_pb2
from deepseek_server.audit import AuditRecord
from deepseek_server.audit.canonical import chain_hash, encode, encode_parts, record_hash
from tests.unit.audit.conftest import event

FULL = replace(
    event(7),
    sequence=123_456_789,
    status_code=5,
    status="NOT_FOUND",
    system=True,
    detail="QUEUED -> RUNNING ✓",
    prev_hash=bytes(range(32)),
    hash=b"\xff" * 32,
)


def as_proto(record: AuditRecord) -> audit_pb2.AuditRecord:
    seconds, micros = divmod(record.time_us, 1_000_000)
    return audit_pb2.AuditRecord(
        sequence=record.sequence,
        event_id=record.event_id,
        time=timestamp_pb2.Timestamp(seconds=seconds, nanos=micros * 1000),
        user_id=record.user_id,
        client_id=record.client_id,
        action=record.action,
        method=record.method,
        resource_id=record.resource_id,
        ip_address=record.ip_address,
        status_code=record.status_code,
        status=record.status,
        duration_ms=record.duration_ms,
        request_id=record.request_id,
        messages_received=record.messages_received,
        messages_sent=record.messages_sent,
        bytes_received=record.bytes_received,
        bytes_sent=record.bytes_sent,
        system=record.system,
        detail=record.detail,
        prev_hash=record.prev_hash,
    )


@pytest.mark.parametrize(
    "record",
    [
        FULL,
        AuditRecord(event_id="e", time_us=0, action="a"),
        AuditRecord(event_id="e", time_us=1_000_000, action="a", status="", duration_ms=-0.0),
        replace(FULL, status_code=-3, bytes_sent=2**62, duration_ms=1e-300),
        replace(FULL, time_us=-1_500_000),
    ],
)
def test_encoding_equals_protobuf_serialization_with_hash_cleared(record: AuditRecord) -> None:
    expected = as_proto(record).SerializeToString()

    assert encode(record) == expected
    assert record_hash(record) == hashlib.sha256(expected).digest()


def test_hash_from_parts_equals_hash_of_whole_record() -> None:
    middle, tail = encode_parts(FULL)

    assert chain_hash(FULL.sequence, middle, FULL.prev_hash, tail) == record_hash(FULL)


def test_every_field_changes_the_hash() -> None:
    changed: dict[str, Any] = {
        "event_id": "x", "time_us": 1, "action": "x", "user_id": "x", "client_id": "x",
        "method": "x", "resource_id": "x", "ip_address": "x", "status_code": 9, "status": "x",
        "duration_ms": 9.5, "request_id": "x", "messages_received": 9, "messages_sent": 9,
        "bytes_received": 9, "bytes_sent": 9, "system": False, "detail": "x", "sequence": 9,
        "prev_hash": b"x" * 32,
    }  # fmt: skip
    original = record_hash(FULL)

    for name, value in changed.items():
        assert record_hash(replace(FULL, **{name: value})) != original, name
    assert record_hash(replace(FULL, hash=b"")) == original
