"""Checking the hash chain and its signed checkpoints, incrementally and without I/O.

Feed records in sequence order and each checkpoint no later than the records after the one it
covers (before its record, or right after it); the verifier stops at the first break and
reports its sequence. Everything here is CPU work: callers on the event loop run it in a
thread, a chunk at a time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from deepseek_server.audit.canonical import record_hash
from deepseek_server.audit.model import ZERO_HASH, AuditRecord, Checkpoint, VerifyResult
from deepseek_server.audit.signing import PublicKeys


class ChainVerifier:
    """Recomputes hashes and links from ``first_sequence`` on and checks checkpoints.

    The first record's ``prev_hash`` is trusted, except for sequence 1, whose predecessor is
    by definition 32 zero bytes.
    """

    def __init__(self, keys: PublicKeys, first_sequence: int = 1) -> None:
        self._keys = keys
        self._expected = max(first_sequence, 1)
        self._prev_hash: bytes | None = ZERO_HASH if self._expected == 1 else None
        self._last: tuple[int, bytes] | None = None
        self._pending: deque[Checkpoint] = deque()
        self.records_checked = 0
        self.checkpoints_checked = 0
        self.broken_at = 0
        self.problem = ""

    @property
    def ok(self) -> bool:
        """No break found so far."""
        return not self.broken_at

    def add_records(self, records: Iterable[AuditRecord]) -> bool:
        """Check records in order; False once the chain is broken (further input is ignored)."""
        for record in records:
            if self.broken_at:
                return False
            self._check_record(record)
        return self.ok

    def add_checkpoints(self, checkpoints: Iterable[Checkpoint]) -> bool:
        """Take checkpoints in sequence order; each is checked once its record has been seen."""
        for checkpoint in checkpoints:
            if self.broken_at:
                return False
            if self._last is not None and checkpoint.sequence <= self._last[0]:
                if checkpoint.sequence < self._last[0]:
                    self._break(checkpoint.sequence, "checkpoint out of order")
                else:
                    self._check_checkpoint(checkpoint, self._last[1])
            else:
                self._pending.append(checkpoint)
        return self.ok

    def finish(self, end_sequence: int | None = None) -> VerifyResult:
        """The verdict once all input is in; ``end_sequence`` is where the range must reach.

        A checkpoint beyond the last record, or an ``end_sequence`` beyond it, means records
        are missing from the end: the break is at the first missing sequence.
        """
        last = self._last[0] if self._last is not None else self._expected - 1
        if not self.broken_at:
            if self._pending:
                self._break(
                    last + 1,
                    f"records end at {last} but checkpoint {self._pending[0].sequence} "
                    "covers more: the log was truncated",
                )
            elif end_sequence is not None and end_sequence > last:
                self._break(last + 1, f"records end at {last}, expected up to {end_sequence}")
        return VerifyResult(
            ok=not self.broken_at,
            records_checked=self.records_checked,
            checkpoints_checked=self.checkpoints_checked,
            end_sequence=last,
            first_broken_sequence=self.broken_at,
            problem=self.problem,
        )

    def _check_record(self, record: AuditRecord) -> None:
        if record.sequence != self._expected:
            self._break(
                min(record.sequence, self._expected),
                f"sequence gap or reordering: expected {self._expected}, found {record.sequence}",
            )
            return
        self.records_checked += 1
        if record_hash(record) != record.hash:
            self._break(record.sequence, "hash mismatch: the record was altered")
            return
        if self._prev_hash is not None and record.prev_hash != self._prev_hash:
            self._break(record.sequence, "prev_hash does not link to the previous record")
            return
        self._prev_hash = record.hash
        self._last = (record.sequence, record.hash)
        self._expected = record.sequence + 1
        while self._pending and self._pending[0].sequence <= record.sequence:
            checkpoint = self._pending.popleft()
            if checkpoint.sequence == record.sequence:
                self._check_checkpoint(checkpoint, record.hash)

    def _check_checkpoint(self, checkpoint: Checkpoint, record_hash_: bytes) -> None:
        self.checkpoints_checked += 1
        if checkpoint.head_hash != record_hash_:
            self._break(checkpoint.sequence, "checkpoint head_hash does not match the record")
            return
        problem = self._keys.check(checkpoint)
        if problem:
            self._break(checkpoint.sequence, problem)

    def _break(self, sequence: int, problem: str) -> None:
        if not self.broken_at:
            self.broken_at, self.problem = sequence, problem


def verify_chain(
    records: Iterable[AuditRecord],
    checkpoints: Iterable[Checkpoint],
    keys: PublicKeys,
    *,
    first_sequence: int = 1,
    end_sequence: int | None = None,
) -> VerifyResult:
    """Check ``records`` (sequence order) against ``checkpoints`` in one go."""
    verifier = ChainVerifier(keys, first_sequence)
    verifier.add_checkpoints(checkpoints)
    verifier.add_records(records)
    return verifier.finish(end_sequence)
