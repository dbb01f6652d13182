"""Helpers for audit unit tests: a chain built exactly as the log builds it, and keys."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from deepseek_server.audit import AuditRecord, Checkpoint, KeyRingSigner, PublicKeys
from deepseek_server.audit.canonical import record_hash
from deepseek_server.audit.model import ZERO_HASH
from deepseek_server.audit.signing import sign_checkpoint
from deepseek_server.identity import SigningKey, generate_signing_key


@dataclass
class Chain:
    """Records 1..n, checkpoints every ``every`` records and at the end, and the keys."""

    records: list[AuditRecord]
    checkpoints: list[Checkpoint]
    keys: PublicKeys
    key: SigningKey


def event(number: int) -> AuditRecord:
    """A plausible call record, different for each number."""
    return AuditRecord(
        event_id=f"ds_audit_{number:04d}",
        time_us=1_700_000_000_000_000 + number * 1_234,
        action="job.create",
        user_id="alice" if number % 2 else "bob",
        client_id="ds_api_client_001",
        method="/deepseek.hpc.v1.JobService/CreateJob",
        resource_id=f"job_{number}",
        ip_address="203.0.113.45",
        duration_ms=0.125 * number,
        request_id=f"req-{number}",
        messages_received=1,
        messages_sent=1,
        bytes_received=100 + number,
        bytes_sent=300 + number,
    )


def chain_records(records: list[AuditRecord], prev: bytes = ZERO_HASH) -> list[AuditRecord]:
    """``records`` numbered from their first sequence (or 1) and hash-linked."""
    chained = []
    sequence = records[0].sequence or 1
    for record in records:
        linked = replace(record, sequence=sequence, prev_hash=prev, hash=b"")
        linked = replace(linked, hash=record_hash(linked))
        chained.append(linked)
        prev, sequence = linked.hash, sequence + 1
    return chained


def build_chain(count: int = 10, every: int = 4, key: SigningKey | None = None) -> Chain:
    """A valid chain of ``count`` records with checkpoints at every ``every``-th and the last."""
    key = key or generate_signing_key("ES256", "k1")
    signer = KeyRingSigner(lambda: key)
    records = chain_records([event(n) for n in range(1, count + 1)])
    checkpoints = [
        sign_checkpoint(signer, r.sequence, r.hash, r.time_us + 1)
        for r in records
        if r.sequence % every == 0 or r.sequence == count
    ]
    return Chain(records, checkpoints, PublicKeys.of([key.public_jwk]), key)


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    """One ES256 key for the session (key generation is the slow part)."""
    return generate_signing_key("ES256", "k1")
