"""The audit log's values: records, checkpoints, filters and verification outcomes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from deepseek_server.clock import from_micros, micros
from deepseek_server.randomness import random_hex

ZERO_HASH = bytes(32)
"""``prev_hash`` of the first record: there is no predecessor."""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audited event: an RPC the gateway handled, or an action it took itself.

    Fields mirror ``deepseek.hpc.v1.AuditRecord``. Before it is appended a record has no
    ``sequence``, ``prev_hash`` or ``hash``; the log assigns them inside its write transaction.
    """

    event_id: str
    time_us: int
    """When the event happened (the call arrived), microseconds since the Unix epoch, UTC."""
    action: str
    user_id: str = ""
    client_id: str = ""
    method: str = ""
    resource_id: str = ""
    ip_address: str = ""
    status_code: int = 0
    status: str = "OK"
    duration_ms: float = 0.0
    request_id: str = ""
    messages_received: int = 0
    messages_sent: int = 0
    bytes_received: int = 0
    bytes_sent: int = 0
    system: bool = False
    detail: str = ""
    sequence: int = 0
    prev_hash: bytes = b""
    hash: bytes = b""

    @property
    def time(self) -> datetime:
        """:attr:`time_us` as an aware UTC datetime."""
        return from_micros(self.time_us)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement that the chain's record ``sequence`` has hash ``head_hash``."""

    sequence: int
    head_hash: bytes
    time_us: int
    signature: str
    """Compact JWS over :func:`deepseek_server.audit.signing.checkpoint_payload`."""
    kid: str


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """Which records a listing or a tail returns; every condition given must hold."""

    user_id: str | None = None
    action: str = ""
    resource_id: str = ""
    status_code: int | None = None
    start_us: int | None = None
    """At or after this time (epoch microseconds)."""
    end_us: int | None = None
    """Strictly before this time (epoch microseconds)."""

    def matches(self, record: AuditRecord) -> bool:
        """Whether ``record`` meets every condition."""
        return (
            (self.user_id is None or record.user_id == self.user_id)
            and (not self.action or record.action == self.action)
            and (not self.resource_id or record.resource_id == self.resource_id)
            and (self.status_code is None or record.status_code == self.status_code)
            and (self.start_us is None or record.time_us >= self.start_us)
            and (self.end_us is None or record.time_us < self.end_us)
        )


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of checking a range of the chain."""

    ok: bool
    records_checked: int
    checkpoints_checked: int
    end_sequence: int
    """The last sequence checked."""
    first_broken_sequence: int = 0
    """Where the chain breaks; 0 when :attr:`ok`."""
    problem: str = ""
    """What is wrong at :attr:`first_broken_sequence`; empty when :attr:`ok`."""


def new_event_id() -> str:
    """A fresh, globally unique event id in the platform guide's ``ds_audit_`` style."""
    return f"ds_audit_{random_hex(12)}"


def rfc3339(time_us: int) -> str:
    """``2024-05-01T12:34:56.123456Z``: the time format of checkpoints and exports."""
    return from_micros(time_us).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(text: str) -> int:
    """Epoch microseconds of an RFC 3339 time (``Z`` or an offset); raises ValueError."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return micros(moment)
