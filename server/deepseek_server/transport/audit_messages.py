"""AuditService messages to and from the audit domain's values."""

from __future__ import annotations

from deepseek.hpc.v1 import audit_pb2
from deepseek_server.audit import AuditRecord, Checkpoint, RecordFilter, VerifyResult
from deepseek_server.transport._time import micros_of, timestamp_of_micros


def record_to_proto(record: AuditRecord) -> audit_pb2.AuditRecord:
    """The API's view of a record (its hash is over exactly these fields)."""
    return audit_pb2.AuditRecord(
        sequence=record.sequence,
        event_id=record.event_id,
        time=timestamp_of_micros(record.time_us),
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
        hash=record.hash,
    )


def checkpoint_to_proto(checkpoint: Checkpoint) -> audit_pb2.AuditCheckpoint:
    """The API's view of a checkpoint."""
    return audit_pb2.AuditCheckpoint(
        sequence=checkpoint.sequence,
        head_hash=checkpoint.head_hash,
        time=timestamp_of_micros(checkpoint.time_us),
        signature=checkpoint.signature,
        kid=checkpoint.kid,
    )


def verify_result_to_proto(result: VerifyResult) -> audit_pb2.VerifyAuditChainResponse:
    """The verdict of VerifyAuditChain."""
    return audit_pb2.VerifyAuditChainResponse(
        ok=result.ok,
        records_checked=result.records_checked,
        first_broken_sequence=result.first_broken_sequence,
        problem=result.problem,
        checkpoints_checked=result.checkpoints_checked,
        end_sequence=result.end_sequence,
    )


def record_filter(
    request: audit_pb2.ListAuditRecordsRequest | audit_pb2.WatchAuditRecordsRequest,
    user_id: str | None,
) -> RecordFilter:
    """The domain filter of a list or watch request, for the user the caller may see."""
    start_us = end_us = None
    if isinstance(request, audit_pb2.ListAuditRecordsRequest):
        if request.HasField("start_time"):
            start_us = micros_of(request.start_time)
        if request.HasField("end_time"):
            end_us = micros_of(request.end_time)
    return RecordFilter(
        user_id=user_id,
        action=request.action,
        resource_id=request.resource_id,
        status_code=request.status_code if request.HasField("status_code") else None,
        start_us=start_us,
        end_us=end_us,
    )
