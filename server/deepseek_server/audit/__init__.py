"""The audit log: every call and every system action, append-only, hash-chained and signed.

Domain code: no gRPC. The interceptor (``interceptors.audit``) records calls, ``record_system``
records the gateway's own actions, ``transport.audit`` serves the log, and ``export`` writes and
checks it offline.
"""

from deepseek_server.audit.actions import ACTIONS, JOB_STATE_CHANGE, UPLOAD_EXPIRE, action_of
from deepseek_server.audit.log import AuditLog, AuditOptions
from deepseek_server.audit.model import (
    ZERO_HASH,
    AuditRecord,
    Checkpoint,
    RecordFilter,
    VerifyResult,
    new_event_id,
)
from deepseek_server.audit.signing import CheckpointSigner, KeyRingSigner, PublicKeys
from deepseek_server.audit.verify import ChainVerifier, verify_chain

__all__ = [
    "ACTIONS",
    "JOB_STATE_CHANGE",
    "UPLOAD_EXPIRE",
    "ZERO_HASH",
    "AuditLog",
    "AuditOptions",
    "AuditRecord",
    "ChainVerifier",
    "Checkpoint",
    "CheckpointSigner",
    "KeyRingSigner",
    "PublicKeys",
    "RecordFilter",
    "VerifyResult",
    "action_of",
    "new_event_id",
    "verify_chain",
]
