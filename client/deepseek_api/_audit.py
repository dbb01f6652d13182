"""Audit records and chain verification as the SDK shows them, and their requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from deepseek.hpc.v1 import audit_pb2
from deepseek_api import _protos


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audited event: an RPC the gateway handled, or an action it took itself.

    Attributes:
        sequence: Position in the log, gapless from 1.
        event_id: Globally unique id of the event.
        time: When it happened (UTC, microseconds).
        user_id: The user the call acted for (the job owner for a system action).
        client_id: The API client that called; empty for system actions.
        action: ``"<resource>.<verb>"``, e.g. ``"job.create"``, ``"upload.finish"``.
        method: The full gRPC method; empty for system actions.
        resource_id: What was acted on (a job id, dataset name, ...); empty when none.
        ip_address: The client's address; empty for system actions.
        status: The status the call ended with, e.g. ``"OK"``, ``"NOT_FOUND"``.
        status_code: Its ``google.rpc.Code`` number (0 for OK).
        duration_ms: How long the call took, in milliseconds.
        request_id: The call's request id; empty if none.
        system: True for an action of the gateway itself (a job state change).
        detail: Short human-readable detail.
        hash: SHA-256 of the record (32 bytes), chained through ``prev_hash``.
        prev_hash: The previous record's hash.
        proto: The ``deepseek.hpc.v1.AuditRecord`` message (byte and message counts).
    """

    sequence: int
    event_id: str
    time: datetime | None
    user_id: str
    client_id: str
    action: str
    method: str
    resource_id: str
    ip_address: str
    status: str
    status_code: int
    duration_ms: float
    request_id: str
    system: bool
    detail: str
    hash: bytes = field(repr=False)
    prev_hash: bytes = field(repr=False)
    proto: audit_pb2.AuditRecord = field(repr=False, compare=False)

    @classmethod
    def from_proto(cls, record: audit_pb2.AuditRecord) -> AuditRecord:
        """Read a ``deepseek.hpc.v1.AuditRecord``."""
        return cls(
            sequence=record.sequence,
            event_id=record.event_id,
            time=_protos.datetime_field(record, "time"),
            user_id=record.user_id,
            client_id=record.client_id,
            action=record.action,
            method=record.method,
            resource_id=record.resource_id,
            ip_address=record.ip_address,
            status=record.status,
            status_code=record.status_code,
            duration_ms=record.duration_ms,
            request_id=record.request_id,
            system=record.system,
            detail=record.detail,
            hash=record.hash,
            prev_hash=record.prev_hash,
            proto=record,
        )


@dataclass(frozen=True, slots=True)
class AuditChainVerification:
    """The outcome of :meth:`DeepSeekClient.verify_audit_chain`.

    Attributes:
        ok: True when every record in the range hashes correctly and links to its
            predecessor without gaps, and every signed checkpoint matches.
        records_checked: Records checked.
        checkpoints_checked: Signed checkpoints checked.
        end_sequence: The last sequence checked.
        first_broken_sequence: Where the chain first breaks; None when ``ok``.
        problem: What is wrong there, e.g. ``"hash mismatch"``; empty when ``ok``.
    """

    ok: bool
    records_checked: int
    checkpoints_checked: int
    end_sequence: int
    first_broken_sequence: int | None
    problem: str

    def __bool__(self) -> bool:
        return self.ok

    @classmethod
    def from_proto(cls, response: audit_pb2.VerifyAuditChainResponse) -> AuditChainVerification:
        """Read a ``VerifyAuditChainResponse``."""
        return cls(
            ok=response.ok,
            records_checked=response.records_checked,
            checkpoints_checked=response.checkpoints_checked,
            end_sequence=response.end_sequence,
            first_broken_sequence=response.first_broken_sequence or None,
            problem=response.problem,
        )


def list_records_request(
    *,
    user_id: str | None,
    action: str | None,
    resource_id: str | None,
    status_code: int | None,
    start: datetime | None,
    end: datetime | None,
    page_size: int,
) -> audit_pb2.ListAuditRecordsRequest:
    """The first page's ``ListAuditRecordsRequest``.

    Raises:
        ValueError: for a naive datetime.
    """
    request = audit_pb2.ListAuditRecordsRequest(
        page_size=page_size,
        user_id=user_id or "",
        action=action or "",
        resource_id=resource_id or "",
    )
    if status_code is not None:
        request.status_code = status_code
    if start is not None:
        request.start_time.CopyFrom(_protos.timestamp_of(start, "start"))
    if end is not None:
        request.end_time.CopyFrom(_protos.timestamp_of(end, "end"))
    return request


def watch_records_request(
    after_sequence: int | None,
    *,
    user_id: str | None,
    action: str | None,
    resource_id: str | None,
    status_code: int | None,
) -> audit_pb2.WatchAuditRecordsRequest:
    """A ``WatchAuditRecordsRequest``; ``after_sequence`` None watches new records only."""
    request = audit_pb2.WatchAuditRecordsRequest(
        user_id=user_id or "", action=action or "", resource_id=resource_id or ""
    )
    if after_sequence is not None:
        request.after_sequence = after_sequence
    if status_code is not None:
        request.status_code = status_code
    return request
