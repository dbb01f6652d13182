"""The audit log: group-committed, hash-chained appends, signed checkpoints, and reads.

One writer task owns appending. Records handed in while a commit runs go into the next one, so
many concurrent calls share one transaction; inside it the writer reads the head of the chain,
numbers and hashes the batch, inserts it and, when one is due, signs a checkpoint of the new
head. In ``sync`` mode :meth:`AuditLog.append` returns once the record is committed; in
``async`` mode once it is queued, and a full queue makes callers wait, never drops a record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Literal

from deepseek_server.audit import repository
from deepseek_server.audit.canonical import chain_hash, encode_parts
from deepseek_server.audit.model import (
    ZERO_HASH,
    AuditRecord,
    Checkpoint,
    RecordFilter,
    VerifyResult,
    new_event_id,
)
from deepseek_server.audit.signing import CheckpointSigner, PublicKeys, sign_checkpoint
from deepseek_server.audit.verify import ChainVerifier
from deepseek_server.errors import FieldViolation, InvalidArgument, OutOfRange, Unavailable
from deepseek_server.jobs.events import EventHub
from deepseek_server.storage import Store, Transaction

_log = logging.getLogger(__name__)

TAIL_PAGE = 500
VERIFY_CHUNK = 2000
# After a failed commit, records without a waiting caller are retried after this pause.
RETRY_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class AuditOptions:
    """How the log trades latency for durability, and how often it signs its head."""

    mode: Literal["sync", "async"] = "sync"
    """``sync``: a call's record is committed before the call returns; ``async``: queued."""
    buffer_records: int = 10_000
    """``async`` mode: records queued at most; a caller finding it full waits."""
    checkpoint_every_records: int = 1000
    """Sign the head once this many records were appended since the last checkpoint."""
    checkpoint_every_seconds: float = 60.0
    """...or once this much time passed with records appended since the last checkpoint."""
    max_batch: int = 2000
    """Records committed in one transaction at most."""


@dataclass(slots=True)
class _Pending:
    record: AuditRecord
    done: asyncio.Future[AuditRecord] | None
    holds_slot: bool


class AuditLog:
    """Appends audit records for the whole gateway and answers queries about them."""

    def __init__(
        self,
        store: Store,
        signer: CheckpointSigner,
        public_keys: Callable[[], PublicKeys],
        options: AuditOptions | None = None,
    ) -> None:
        self._store = store
        self._signer = signer
        self._public_keys = public_keys
        self._options = options or AuditOptions()
        self._queue: deque[_Pending] = deque()
        self._slots = asyncio.Semaphore(self._options.buffer_records)
        self._wake = asyncio.Event()
        self._hub = EventHub()
        self._head = (0, ZERO_HASH)
        self._checkpointed = 0
        self._checkpoint_clock = time.monotonic()
        self._writer: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def options(self) -> AuditOptions:
        """The options the log runs with."""
        return self._options

    @property
    def head_sequence(self) -> int:
        """The sequence of the last committed record; 0 for an empty log."""
        return self._head[0]

    async def start(self) -> None:
        """Read the head of the chain and start the writer."""
        sequence, hash_ = await repository.head(self._store)
        self._head = (sequence, hash_ or ZERO_HASH)
        last = await repository.last_checkpoint(self._store)
        self._checkpointed = last.sequence if last is not None else 0
        self._hub.announce(sequence)
        self._writer = asyncio.create_task(self._run(), name="audit-writer")

    async def append(self, record: AuditRecord) -> None:
        """Append a record: committed on return in ``sync`` mode, queued in ``async`` mode.

        A record handed in is written even if the caller is cancelled while waiting.
        Raises :class:`Unavailable` when the log is closed or (``sync``) the commit failed.
        """
        if self._options.mode == "async":
            await self._slots.acquire()
            if not self._enqueue(_Pending(record, None, holds_slot=True)):
                self._slots.release()
                raise Unavailable("the audit log is closed")
            return
        done = asyncio.get_running_loop().create_future()
        if not self._enqueue(_Pending(record, done, holds_slot=False)):
            raise Unavailable("the audit log is closed")
        await done

    def append_nowait(self, record: AuditRecord) -> None:
        """Queue a record without waiting, beyond the ``async`` bound if need be.

        For what cannot wait: a call already cancelled, a system action reported from code that
        is not a coroutine. Such records are rare next to calls, so the bound stays meaningful.
        """
        if not self._enqueue(_Pending(record, None, holds_slot=False)):
            _log.error("audit record after the log closed, not written: %s", record)

    def record_system(
        self,
        action: str,
        *,
        resource_id: str = "",
        user_id: str = "",
        detail: str = "",
        time_us: int | None = None,
    ) -> None:
        """Record an action the gateway took itself (a job's state change, an upload expiring).

        Never blocks; the record is committed with the next batch.
        """
        self.append_nowait(
            AuditRecord(
                event_id=new_event_id(),
                time_us=time.time_ns() // 1000 if time_us is None else time_us,
                action=action,
                user_id=user_id,
                resource_id=resource_id,
                detail=detail,
                system=True,
            )
        )

    def end_streams(self) -> None:
        """End live tails with UNAVAILABLE (the gateway is shutting down)."""
        self._hub.close()

    async def close(self) -> None:
        """Write everything queued, sign the final head, stop the writer. Idempotent."""
        self._closing = True
        self._hub.close()
        if self._writer is None:
            return
        self._wake.set()
        await asyncio.shield(self._writer)
        if self._head[0] > self._checkpointed:
            try:
                await self._commit([], force_checkpoint=True)
            except Exception:
                _log.exception("the final audit checkpoint could not be written")

    async def list_records(
        self, conditions: RecordFilter, after: int, limit: int
    ) -> list[AuditRecord]:
        """Committed records after sequence ``after`` meeting ``conditions``, in order."""
        return await repository.records(self._store, conditions, after, None, limit)

    async def list_checkpoints(self, after: int, limit: int) -> list[Checkpoint]:
        """Checkpoints after sequence ``after``, in order."""
        return await repository.checkpoints(self._store, after, None, limit)

    async def tail(self, conditions: RecordFilter, after: int | None) -> AsyncIterator[AuditRecord]:
        """Stored records after ``after`` (``None``: from now on), then new ones as committed.

        Runs until the consumer stops or :meth:`end_streams` (then :class:`Unavailable`).
        """
        cursor = self._head[0] if after is None else after
        if cursor > self._head[0]:
            raise OutOfRange(f"after_sequence {cursor} is beyond the head {self._head[0]}")
        while True:
            head = self._hub.last
            if head <= cursor:
                await self._hub.wait_beyond(cursor)
                continue
            found = await repository.records(self._store, conditions, cursor, head, TAIL_PAGE)
            for record in found:
                yield record
            cursor = found[-1].sequence if len(found) == TAIL_PAGE else head

    async def verify(self, start: int, end: int) -> VerifyResult:
        """Check records ``start..end`` (0: 1 and the head) and the checkpoints among them."""
        head = self._head[0]
        first = start or 1
        last = end or head
        if end and start > end:
            raise InvalidArgument(
                [FieldViolation("start_sequence", f"{start} is after end_sequence {end}")]
            )
        if last > head:
            raise OutOfRange(f"end_sequence {last} is beyond the head {head}")
        verifier = ChainVerifier(self._public_keys(), first)
        cursor = first - 1
        while cursor < last and verifier.ok:
            until = min(cursor + VERIFY_CHUNK, last)
            records = await repository.records(
                self._store, RecordFilter(), cursor, until, VERIFY_CHUNK
            )
            checkpoints = await repository.checkpoints(self._store, cursor, until, VERIFY_CHUNK)

            def check(
                records: list[AuditRecord] = records, checkpoints: list[Checkpoint] = checkpoints
            ) -> None:
                verifier.add_checkpoints(checkpoints)
                verifier.add_records(records)

            await asyncio.to_thread(check)
            cursor = until
        return verifier.finish(last)

    def _enqueue(self, item: _Pending) -> bool:
        if self._writer is None or self._writer.done():
            return False
        self._queue.append(item)
        self._wake.set()
        return True

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._closing:
                    return
                await self._idle()
                continue
            size = min(len(self._queue), self._options.max_batch)
            batch = [self._queue.popleft() for _ in range(size)]
            try:
                await self._commit(batch)
            except Exception as error:
                _log.exception("writing %d audit records failed", len(batch))
                self._fail(batch, error)
                if self._closing:
                    _log.error("closing: %d audit records could not be written", len(self._queue))
                    return
                await asyncio.sleep(RETRY_SECONDS)
            else:
                for item in batch:
                    if item.holds_slot:
                        self._slots.release()

    async def _idle(self) -> None:
        """Wait for records, or until a time-based checkpoint falls due."""
        self._wake.clear()
        timeout = None
        if self._head[0] > self._checkpointed:
            elapsed = time.monotonic() - self._checkpoint_clock
            timeout = max(0.0, self._options.checkpoint_every_seconds - elapsed)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wake.wait()
                return
        try:
            await self._commit([], force_checkpoint=True)
        except Exception:
            _log.exception("writing an audit checkpoint failed")
            await asyncio.sleep(RETRY_SECONDS)

    def _fail(self, batch: list[_Pending], error: Exception) -> None:
        # A waiting caller learns of the failure; a record nobody waits for is kept and retried.
        retry = []
        for item in batch:
            if item.done is not None:
                if not item.done.done():
                    item.done.set_exception(Unavailable("the audit log cannot be written"))
                    item.done.exception()
            else:
                retry.append(item)
        self._queue.extendleft(reversed(retry))
        del error

    async def _commit(self, batch: list[_Pending], *, force_checkpoint: bool = False) -> None:
        encoded = [encode_parts(item.record) for item in batch]
        checkpoint: Checkpoint | None = None
        async with self._store.transaction() as tx:
            sequence, prev = await repository.head(tx)
            prev = prev or ZERO_HASH
            chained = []
            for item, (middle, tail) in zip(batch, encoded, strict=True):
                sequence += 1
                digest = chain_hash(sequence, middle, prev, tail)
                chained.append(replace(item.record, sequence=sequence, prev_hash=prev, hash=digest))
                prev = digest
            if chained:
                await repository.insert(tx, chained)
            if sequence > self._checkpointed and (
                force_checkpoint
                or sequence - self._checkpointed >= self._options.checkpoint_every_records
                or time.monotonic() - self._checkpoint_clock
                >= self._options.checkpoint_every_seconds
            ):
                checkpoint = await self._checkpoint(tx, sequence, prev)
        self._head = (sequence, prev)
        if checkpoint is not None:
            self._checkpointed = checkpoint.sequence
            self._checkpoint_clock = time.monotonic()
        for item, record in zip(batch, chained, strict=True):
            if item.done is not None and not item.done.done():
                item.done.set_result(record)
        self._hub.announce(sequence)

    async def _checkpoint(self, tx: Transaction, sequence: int, head_hash: bytes) -> Checkpoint:
        checkpoint = sign_checkpoint(self._signer, sequence, head_hash, time.time_ns() // 1000)
        await repository.insert_checkpoint(tx, checkpoint)
        return checkpoint
