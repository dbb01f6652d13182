"""The audit log as a file: JSON Lines that anyone can verify with the public keys alone.

Format (one JSON object per line, ``type`` first):

- ``{"type": "header", "format": "deepseek-audit-export", "version": 1, "from": F, "to": T}``
  opens the file: the records ``F..T`` follow, and a verifier requires every one of them;
- ``{"type": "record", ...}``: every field of ``AuditRecord`` under its proto name, ``time`` in
  RFC 3339 with microseconds, ``prev_hash`` and ``hash`` in hex; in sequence order;
- ``{"type": "checkpoint", "sequence", "head_hash" (hex), "time", "signature", "kid"}``: right
  after the record it covers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from deepseek_server.audit import repository
from deepseek_server.audit.model import (
    AuditRecord,
    Checkpoint,
    RecordFilter,
    VerifyResult,
    parse_rfc3339,
    rfc3339,
)
from deepseek_server.audit.signing import PublicKeys
from deepseek_server.audit.verify import ChainVerifier
from deepseek_server.storage import Queryable

FORMAT = "deepseek-audit-export"
VERSION = 1
_CHUNK = 5000
_TEXT_FIELDS = (
    "event_id", "user_id", "client_id", "action", "method", "resource_id", "ip_address",
    "status", "request_id", "detail",
)  # fmt: skip
_INT_FIELDS = (
    "sequence", "status_code", "messages_received", "messages_sent", "bytes_received",
    "bytes_sent",
)  # fmt: skip


class ExportFormatError(ValueError):
    """A line of an export file is not what the format says; the message names the line."""


async def export_records(
    db: Queryable, out: TextIO, first: int = 1, last: int = 0
) -> tuple[int, int]:
    """Write records ``first..last`` (0: the head) with their checkpoints to ``out``.

    Returns (records, checkpoints) written. Writes to ``out`` directly: pass a file opened by
    the caller (the CLI runs this alone, so blocking writes block nobody).
    """
    head, _ = await repository.head(db)
    first = max(first, 1)
    last = min(last or head, head)
    out.write(
        _line({"type": "header", "format": FORMAT, "version": VERSION, "from": first, "to": last})
    )
    written = [0, 0]
    cursor = first - 1
    while cursor < last:
        until = min(cursor + _CHUNK, last)
        records = await repository.records(db, RecordFilter(), cursor, until, _CHUNK)
        checkpoints = {
            c.sequence: c for c in await repository.checkpoints(db, cursor, until, _CHUNK)
        }
        for record in records:
            out.write(_line(record_to_json(record)))
            written[0] += 1
            checkpoint = checkpoints.get(record.sequence)
            if checkpoint is not None:
                out.write(_line(checkpoint_to_json(checkpoint)))
                written[1] += 1
        cursor = until
    return written[0], written[1]


def verify_export(lines: Iterable[str], keys: PublicKeys) -> VerifyResult:
    """Check an export file's chain and checkpoints; raises :class:`ExportFormatError`."""
    entries = _entries(lines)
    header = next(entries, None)
    if header is None or header[1].get("type") != "header" or header[1].get("format") != FORMAT:
        raise ExportFormatError(f"line 1: not a {FORMAT} file (no header)")
    first, last = header[1].get("from"), header[1].get("to")
    if not isinstance(first, int) or not isinstance(last, int):
        raise ExportFormatError("line 1: the header needs integer 'from' and 'to'")
    verifier = ChainVerifier(keys, first)
    for number, entry in entries:
        kind = entry.get("type")
        try:
            if kind == "record":
                verifier.add_records([record_from_json(entry)])
            elif kind == "checkpoint":
                verifier.add_checkpoints([checkpoint_from_json(entry)])
            else:
                raise ExportFormatError(f"line {number}: unknown type {kind!r}")
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, ExportFormatError):
                raise
            raise ExportFormatError(f"line {number}: malformed {kind}: {error!r}") from None
        if not verifier.ok:
            break
    return verifier.finish(last if last >= first else None)


def record_to_json(record: AuditRecord) -> dict[str, Any]:
    """A record as an export line's object."""
    entry: dict[str, Any] = {"type": "record", "sequence": record.sequence}
    entry.update(
        event_id=record.event_id,
        time=rfc3339(record.time_us),
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
        prev_hash=record.prev_hash.hex(),
        hash=record.hash.hex(),
    )
    return entry


def record_from_json(entry: dict[str, Any]) -> AuditRecord:
    """Inverse of :func:`record_to_json`; raises KeyError, TypeError or ValueError."""
    values: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        values[name] = _typed(entry, name, str)
    for name in _INT_FIELDS:
        values[name] = _typed(entry, name, int)
    duration = entry["duration_ms"]
    if not isinstance(duration, int | float) or isinstance(duration, bool):
        raise TypeError("duration_ms must be a number")
    return AuditRecord(
        **values,
        time_us=parse_rfc3339(_typed(entry, "time", str)),
        duration_ms=float(duration),
        system=_typed(entry, "system", bool),
        prev_hash=bytes.fromhex(_typed(entry, "prev_hash", str)),
        hash=bytes.fromhex(_typed(entry, "hash", str)),
    )


def checkpoint_to_json(checkpoint: Checkpoint) -> dict[str, Any]:
    """A checkpoint as an export line's object."""
    return {
        "type": "checkpoint",
        "sequence": checkpoint.sequence,
        "head_hash": checkpoint.head_hash.hex(),
        "time": rfc3339(checkpoint.time_us),
        "signature": checkpoint.signature,
        "kid": checkpoint.kid,
    }


def checkpoint_from_json(entry: dict[str, Any]) -> Checkpoint:
    """Inverse of :func:`checkpoint_to_json`; raises KeyError, TypeError or ValueError."""
    return Checkpoint(
        sequence=_typed(entry, "sequence", int),
        head_hash=bytes.fromhex(_typed(entry, "head_hash", str)),
        time_us=parse_rfc3339(_typed(entry, "time", str)),
        signature=_typed(entry, "signature", str),
        kid=_typed(entry, "kid", str),
    )


def _typed(entry: dict[str, Any], name: str, kind: type) -> Any:
    value = entry[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"{name} must be {kind.__name__}")
    return value


def _entries(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError as error:
            raise ExportFormatError(f"line {number}: not JSON: {error}") from None
        if not isinstance(entry, dict):
            raise ExportFormatError(f"line {number}: not a JSON object")
        yield number, entry


def _line(entry: dict[str, Any]) -> str:
    return json.dumps(entry, separators=(",", ":"), ensure_ascii=False) + "\n"
