"""AuditService over gRPC: the caller's audit records (everyone's with audit:read), tail, verify."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import grpc.aio

from deepseek.hpc.v1 import audit_pb2, audit_pb2_grpc
from deepseek_server.audit import AuditLog, RecordFilter
from deepseek_server.context import Principal, caller, current_principal
from deepseek_server.errors import FieldViolation, InvalidArgument, PermissionDenied
from deepseek_server.transport import audit_messages as messages

Context = grpc.aio.ServicerContext[Any, Any]
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
ADMIN_SCOPE = "admin"
AUDIT_READ_SCOPE = "audit:read"


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    """Reads and verifies the audit log.

    A caller sees their own records; a caller with the ``audit:read`` (or ``admin``) scope sees
    everyone's.
    With authentication switched off the local user sees their own records and may verify.
    """

    def __init__(self, log: AuditLog) -> None:
        self._log = log

    async def ListAuditRecords(
        self, request: audit_pb2.ListAuditRecordsRequest, context: Context
    ) -> audit_pb2.ListAuditRecordsResponse:
        size = _page_size(request.page_size)
        conditions = messages.record_filter(request, _visible_user(caller(), request.user_id))
        scope = _fingerprint(conditions)
        after = _decode_token(request.page_token, scope) if request.page_token else 0
        found = await self._log.list_records(conditions, after, size + 1)
        token = _encode_token(found[size - 1].sequence, scope) if len(found) > size else ""
        return audit_pb2.ListAuditRecordsResponse(
            records=[messages.record_to_proto(r) for r in found[:size]], next_page_token=token
        )

    async def WatchAuditRecords(
        self, request: audit_pb2.WatchAuditRecordsRequest, context: Context
    ) -> AsyncIterator[audit_pb2.WatchAuditRecordsResponse]:
        conditions = messages.record_filter(request, _visible_user(caller(), request.user_id))
        after = request.after_sequence if request.HasField("after_sequence") else None
        async for record in self._log.tail(conditions, after):
            yield audit_pb2.WatchAuditRecordsResponse(record=messages.record_to_proto(record))

    async def VerifyAuditChain(
        self, request: audit_pb2.VerifyAuditChainRequest, context: Context
    ) -> audit_pb2.VerifyAuditChainResponse:
        if not _is_admin():
            raise PermissionDenied("verifying the audit chain needs the admin scope")
        result = await self._log.verify(request.start_sequence, request.end_sequence)
        return messages.verify_result_to_proto(result)

    async def ListAuditCheckpoints(
        self, request: audit_pb2.ListAuditCheckpointsRequest, context: Context
    ) -> audit_pb2.ListAuditCheckpointsResponse:
        size = _page_size(request.page_size)
        after = _decode_token(request.page_token, "checkpoints") if request.page_token else 0
        found = await self._log.list_checkpoints(after, size + 1)
        token = _encode_token(found[size - 1].sequence, "checkpoints") if len(found) > size else ""
        return audit_pb2.ListAuditCheckpointsResponse(
            checkpoints=[messages.checkpoint_to_proto(c) for c in found[:size]],
            next_page_token=token,
        )


def _is_admin() -> bool:
    principal = current_principal.get()
    return principal is None or ADMIN_SCOPE in principal.scopes  # None: authentication is off


def _visible_user(principal: Principal, requested: str) -> str | None:
    """The user whose records the caller may list; ``None`` for everyone's."""
    if AUDIT_READ_SCOPE in principal.scopes or ADMIN_SCOPE in principal.scopes:
        return requested or None
    if requested and requested != principal.user_id:
        raise PermissionDenied("reading another user's audit records needs the audit:read scope")
    return principal.user_id


def _page_size(requested: int) -> int:
    if requested < 0:
        raise InvalidArgument([FieldViolation("page_size", "must not be negative")])
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def _fingerprint(conditions: RecordFilter) -> str:
    text = json.dumps(
        [
            conditions.user_id,
            conditions.action,
            conditions.resource_id,
            conditions.status_code,
            conditions.start_us,
            conditions.end_us,
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _encode_token(sequence: int, scope: str) -> str:
    raw = json.dumps([sequence, scope], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_token(token: str, scope: str) -> int:
    def bad(description: str) -> InvalidArgument:
        return InvalidArgument([FieldViolation("page_token", description)])

    try:
        sequence, token_scope = json.loads(
            base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        )
    except (binascii.Error, ValueError, TypeError):
        raise bad("is not a page token this API returned") from None
    if token_scope != scope:
        raise bad("belongs to a listing with other filters; pass the same filters")
    if not isinstance(sequence, int) or sequence < 0:
        raise bad("is not a page token this API returned")
    return sequence
