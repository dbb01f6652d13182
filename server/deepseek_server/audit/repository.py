"""Audit rows in the store: portable SQL, no policy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from deepseek_server.audit.model import AuditRecord, Checkpoint, RecordFilter
from deepseek_server.storage import Queryable, Row, Transaction

_COLUMNS = (
    "sequence, event_id, time, user_id, client_id, action, method, resource_id, ip_address,"
    " status_code, status, duration_ms, request_id, messages_received, messages_sent,"
    " bytes_received, bytes_sent, system, detail, prev_hash, hash"
)
_INSERT_RECORD = (
    f"INSERT INTO audit_records ({_COLUMNS}) VALUES (:sequence, :event_id, :time, :user_id,"
    " :client_id, :action, :method, :resource_id, :ip_address, :status_code, :status,"
    " :duration_ms, :request_id, :messages_received, :messages_sent, :bytes_received,"
    " :bytes_sent, :system, :detail, :prev_hash, :hash)"
)
_CHECKPOINT_COLUMNS = "sequence, head_hash, time, signature, kid"


async def head(db: Queryable) -> tuple[int, bytes]:
    """The last record's sequence and hash; ``(0, b"")`` for an empty log."""
    row = await db.fetch_one(
        "SELECT sequence, hash FROM audit_records ORDER BY sequence DESC LIMIT 1"
    )
    return (0, b"") if row is None else (int(row["sequence"]), bytes(row["hash"]))


async def last_checkpoint(db: Queryable) -> Checkpoint | None:
    """The newest checkpoint, if any."""
    row = await db.fetch_one(
        f"SELECT {_CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY sequence DESC LIMIT 1"
    )
    return None if row is None else _checkpoint(row)


async def insert(tx: Transaction, records: Sequence[AuditRecord]) -> None:
    """Append chained records."""
    await tx.execute_many(_INSERT_RECORD, [_params(record) for record in records])


async def insert_checkpoint(tx: Transaction, checkpoint: Checkpoint) -> None:
    """Append a checkpoint."""
    await tx.execute(
        f"INSERT INTO audit_checkpoints ({_CHECKPOINT_COLUMNS})"
        " VALUES (:sequence, :head_hash, :time, :signature, :kid)",
        {
            "sequence": checkpoint.sequence,
            "head_hash": checkpoint.head_hash,
            "time": checkpoint.time_us,
            "signature": checkpoint.signature,
            "kid": checkpoint.kid,
        },
    )


async def records(
    db: Queryable, conditions: RecordFilter, after: int, until: int | None, limit: int
) -> list[AuditRecord]:
    """Records with ``after < sequence <= until`` meeting ``conditions``, in sequence order."""
    where = ["sequence > :after"]
    params: dict[str, Any] = {"after": after, "limit": limit}
    if until is not None:
        where.append("sequence <= :until")
        params["until"] = until
    if conditions.user_id is not None:
        where.append("user_id = :user_id")
        params["user_id"] = conditions.user_id
    if conditions.action:
        where.append("action = :action")
        params["action"] = conditions.action
    if conditions.resource_id:
        where.append("resource_id = :resource_id")
        params["resource_id"] = conditions.resource_id
    if conditions.status_code is not None:
        where.append("status_code = :status_code")
        params["status_code"] = conditions.status_code
    if conditions.start_us is not None:
        where.append("time >= :start_us")
        params["start_us"] = conditions.start_us
    if conditions.end_us is not None:
        where.append("time < :end_us")
        params["end_us"] = conditions.end_us
    rows = await db.fetch_all(
        f"SELECT {_COLUMNS} FROM audit_records WHERE {' AND '.join(where)}"
        " ORDER BY sequence LIMIT :limit",
        params,
    )
    return [_record(row) for row in rows]


async def checkpoints(db: Queryable, after: int, until: int | None, limit: int) -> list[Checkpoint]:
    """Checkpoints with ``after < sequence <= until``, in sequence order."""
    rows = await db.fetch_all(
        f"SELECT {_CHECKPOINT_COLUMNS} FROM audit_checkpoints"
        " WHERE sequence > :after AND sequence <= :until ORDER BY sequence LIMIT :limit",
        {"after": after, "until": until if until is not None else 2**63 - 1, "limit": limit},
    )
    return [_checkpoint(row) for row in rows]


def _params(record: AuditRecord) -> dict[str, object]:
    return {
        "sequence": record.sequence,
        "event_id": record.event_id,
        "time": record.time_us,
        "user_id": record.user_id,
        "client_id": record.client_id,
        "action": record.action,
        "method": record.method,
        "resource_id": record.resource_id,
        "ip_address": record.ip_address,
        "status_code": record.status_code,
        "status": record.status,
        "duration_ms": record.duration_ms,
        "request_id": record.request_id,
        "messages_received": record.messages_received,
        "messages_sent": record.messages_sent,
        "bytes_received": record.bytes_received,
        "bytes_sent": record.bytes_sent,
        "system": int(record.system),
        "detail": record.detail,
        "prev_hash": record.prev_hash,
        "hash": record.hash,
    }


def _record(row: Row) -> AuditRecord:
    return AuditRecord(
        sequence=int(row["sequence"]),
        event_id=row["event_id"],
        time_us=int(row["time"]),
        user_id=row["user_id"],
        client_id=row["client_id"],
        action=row["action"],
        method=row["method"],
        resource_id=row["resource_id"],
        ip_address=row["ip_address"],
        status_code=int(row["status_code"]),
        status=row["status"],
        duration_ms=float(row["duration_ms"]),
        request_id=row["request_id"],
        messages_received=int(row["messages_received"]),
        messages_sent=int(row["messages_sent"]),
        bytes_received=int(row["bytes_received"]),
        bytes_sent=int(row["bytes_sent"]),
        system=bool(row["system"]),
        detail=row["detail"],
        prev_hash=bytes(row["prev_hash"]),
        hash=bytes(row["hash"]),
    )


def _checkpoint(row: Row) -> Checkpoint:
    return Checkpoint(
        sequence=int(row["sequence"]),
        head_hash=bytes(row["head_hash"]),
        time_us=int(row["time"]),
        signature=row["signature"],
        kid=row["kid"],
    )
