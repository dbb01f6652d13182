"""One Upload stream: reading its messages, writing chunks in a thread, acknowledging commits.

The stream keeps the gateway's rules for an upload: chunks arrive in order at the offset the
previous one ended. Receiving never waits for the disk: each chunk goes to two ordered worker
threads, one checking its CRC32C and feeding the SHA-256, the other writing it and starting
its writeback, with a few chunks in flight. Every ``ack_every_bytes`` a commit point is
marked; once the chunks up to it are written and verified, the part file is fsync'd and the
size recorded in the database in the background, and only then acknowledged. One commit runs
at a time, and the next covers every point the chunks reached meanwhile: a slow disk makes
acknowledgements larger, not later and later. On any way out (error, half-close, takeover, a
client that vanished) what was verified is committed, so that a client resumes from the last
byte that reached the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from deepseek_server.data.blobs import ChecksumMismatch, Hash, PartFile
from deepseek_server.data.model import (
    Ack,
    Chunk,
    Finish,
    Resume,
    Start,
    Upload,
    UploadMessage,
    UploadState,
)
from deepseek_server.errors import (
    Aborted,
    DataLoss,
    FailedPrecondition,
    FieldViolation,
    GatewayError,
    InvalidArgument,
    OutOfRange,
    Unavailable,
)

if TYPE_CHECKING:
    from deepseek_server.data.service import DataService

# Messages read ahead of the one being handled, and chunks being written and hashed: together
# they bound the memory a stream holds (with 4 MiB chunks, about 24 MiB).
_READ_AHEAD = 2
_IN_FLIGHT = 4


@dataclass
class _InFlight:
    offset: int
    end: int
    written: asyncio.Future[None]
    verified: asyncio.Future[None]


@dataclass
class Live:
    """The in-process state of an upload: who writes it, and its hash at the committed size."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    stream: UploadStream | None = None
    saved: tuple[int, Hash] | None = None


class _End:
    """The client half-closed its side."""


class _Progress:
    """Work in the background advanced (chunks verified, a commit done): look again."""


_PROGRESS = _Progress()


class UploadStream:
    """Serves one Upload call for ``owner``: :meth:`run` turns messages into acknowledgements."""

    def __init__(self, service: DataService, owner: str) -> None:
        self._service = service
        self._settings = service.settings
        self._owner = owner
        self._queue: asyncio.Queue[UploadMessage | _End | _Progress | BaseException] = (
            asyncio.Queue()
        )
        self._room = asyncio.Semaphore(_READ_AHEAD)
        self._pump: asyncio.Task[None] | None = None
        self._closed = False
        self._interrupted: GatewayError | None = None
        self._live: Live | None = None
        self._upload: Upload | None = None
        self._part: PartFile | None = None
        self._writer: ThreadPoolExecutor | None = None
        self._hasher: ThreadPoolExecutor | None = None
        self._in_flight: deque[_InFlight] = deque()
        self._points: deque[tuple[int, asyncio.Future[Hash]]] = deque()
        self._last_point = 0
        self._committing: asyncio.Future[tuple[int, Hash]] | None = None
        self._verified = 0
        self._committed = 0

    def interrupt(self, error: GatewayError) -> None:
        """End this stream with ``error`` (another stream took over, or the upload ended)."""
        self._interrupted = error
        self._queue.put_nowait(error)

    async def run(self, requests: AsyncIterator[UploadMessage]) -> AsyncIterator[Ack]:
        """The acknowledgements of the upload driven by ``requests``; raises GatewayError."""
        self._pump = asyncio.create_task(self._read(requests))
        try:
            async for ack in self._serve():
                yield ack
        finally:
            await asyncio.shield(self._close())

    async def _serve(self) -> AsyncIterator[Ack]:
        first = await self._next()
        while isinstance(first, _Progress):  # pragma: no cover - nothing runs in the background yet
            first = await self._next()
        if isinstance(first, Start):
            upload = await self._service.start_upload(self._owner, first)
        elif isinstance(first, Resume):
            upload = await self._service.get_upload(self._owner, first.upload_id)
        else:
            raise InvalidArgument(
                [FieldViolation("message", "the first message must be start or resume")]
            )
        if upload.state is not UploadState.FINISHED:
            self._live = await self._service.attach(upload.id, self)
            self._check_interrupted()
            upload = await self._service.get_upload(self._owner, upload.id)
        if upload.state is UploadState.FINISHED:
            yield await self._service.finished_ack(upload)
            return
        if upload.state is not UploadState.ACTIVE:
            raise _not_active(upload)
        self._upload = upload
        part = self._part = await self._service.open_part(upload, self._live)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="upload-write")
        self._hasher = ThreadPoolExecutor(1, thread_name_prefix="upload-hash")
        self._committed = self._verified = self._last_point = expected = part.size
        yield self._service.first_ack(upload.id, self._committed)
        while True:
            message = await self._next()
            if isinstance(message, _Progress):
                ack = await self._progress()
                if ack is not None:
                    yield ack
                continue
            if isinstance(message, _End):
                await self._commit()
                yield Ack(upload.id, self._committed)
                return
            if isinstance(message, Chunk):
                self._check_size(message)
                if message.offset != expected:
                    await self._commit()
                    raise self._offset_mismatch(message.offset)
                if expected + len(message.data) > upload.total_size:
                    await self._commit()
                    raise self._past_end(expected + len(message.data), upload.total_size)
                while len(self._in_flight) >= _IN_FLIGHT:
                    await self._settle_oldest()
                expected = self._submit(part, message)
                ack = await self._progress()
                if ack is not None:
                    yield ack
            elif isinstance(message, Finish):
                await self._commit()
                if self._committed < upload.total_size:
                    raise FailedPrecondition(
                        f"finish after {self._committed} of {upload.total_size} bytes",
                        reason="UPLOAD_INCOMPLETE",
                        metadata={"committed_size": str(self._committed)},
                    )
                part.close()
                info = await self._service.finish_upload(upload, part, message.sha256)
                self._part = None
                yield Ack(upload.id, upload.total_size, file=info)
                return
            else:
                raise InvalidArgument(
                    [FieldViolation("message", "after the first message, only chunk or finish")]
                )

    def _submit(self, part: PartFile, chunk: Chunk) -> int:
        """Hand a chunk to the writer and the hasher; returns where the next one starts."""
        assert self._writer is not None
        assert self._hasher is not None
        loop = asyncio.get_running_loop()
        end = chunk.offset + len(chunk.data)
        self._in_flight.append(
            _InFlight(
                chunk.offset,
                end,
                loop.run_in_executor(self._writer, part.write_at, chunk.data, chunk.offset),
                loop.run_in_executor(self._hasher, part.check_and_hash, chunk.data, chunk.crc32c),
            )
        )
        if end - self._last_point >= self._settings.ack_every_bytes:
            # Queued right behind this chunk's hashing: the hash state at exactly ``end``.
            self._points.append((end, loop.run_in_executor(self._hasher, part.snapshot)))
            self._last_point = end
            for future in (self._in_flight[-1].written, self._in_flight[-1].verified):
                future.add_done_callback(self._wake)
        return end

    def _wake(self, _: object) -> None:
        self._queue.put_nowait(_PROGRESS)

    async def _progress(self) -> Ack | None:
        """Settle the chunks already done, start the next due commit, and acknowledge one that
        has completed."""
        while self._in_flight and self._in_flight[0].verified.done():
            if not self._in_flight[0].written.done():
                break
            await self._settle_oldest()
        ack = None
        committing = self._committing
        if committing is not None and committing.done():
            self._committing = None
            self._committed_at(*committing.result())
            assert self._upload is not None
            ack = Ack(self._upload.id, self._committed)
        if self._committing is None:
            due = self._furthest_point_reached()
            if due is not None:
                self._committing = asyncio.ensure_future(self._make_durable(*due))
                self._committing.add_done_callback(self._wake)
        return ack

    def _furthest_point_reached(self) -> tuple[int, asyncio.Future[Hash]] | None:
        """The last commit point the verified chunks reached; the points before it are passed
        over, since one fdatasync makes them all durable."""
        furthest = None
        while self._points and self._points[0][0] <= self._verified:
            furthest = self._points.popleft()
        return furthest

    async def _make_durable(self, size: int, snapshot: asyncio.Future[Hash]) -> tuple[int, Hash]:
        part, upload = self._part, self._upload
        assert part is not None
        assert upload is not None
        saved = await snapshot
        await asyncio.to_thread(part.sync, size)
        await self._service.record_commit(upload.id, size)
        return size, saved

    def _committed_at(self, size: int, saved: Hash) -> None:
        self._committed = size
        if self._live is not None:
            self._live.saved = (size, saved)

    async def _settle_oldest(self) -> None:
        """Wait for the oldest chunk in flight; DATA_LOSS (after committing what came before)
        if it did not match its CRC32C."""
        head = self._in_flight[0]
        try:
            await head.verified
        except ChecksumMismatch:
            await self._commit()  # finds the mismatch again, and raises DATA_LOSS
            raise
        await head.written
        self._in_flight.popleft()
        self._verified = head.end

    async def _commit(self) -> None:
        """Make everything verified durable and recorded, and wait for it; DATA_LOSS after
        that if a chunk in flight did not match its CRC32C (it and all after it are dropped)."""
        mismatch = False
        while self._in_flight and not mismatch:
            head = self._in_flight[0]
            try:
                await head.verified
            except ChecksumMismatch:
                mismatch = True
                self._drop_in_flight()
            else:
                await head.written
                self._in_flight.popleft()
                self._verified = head.end
        committing, self._committing = self._committing, None
        if committing is not None:
            self._committed_at(*await committing)
        part, upload = self._part, self._upload
        if part is not None and upload is not None and self._verified != self._committed:
            assert self._hasher is not None
            self._points.clear()
            snapshot = asyncio.get_running_loop().run_in_executor(self._hasher, part.snapshot)
            self._committed_at(*await self._make_durable(self._verified, snapshot))
        if mismatch:
            raise DataLoss(
                f"a chunk's CRC32C does not match its data; resend from {self._committed}",
                reason="CHUNK_CHECKSUM_MISMATCH",
                metadata={"committed_size": str(self._committed)},
            )

    def _drop_in_flight(self) -> None:
        for item in self._in_flight:
            for future in (item.written, item.verified):
                future.add_done_callback(_ignore_outcome)
        self._in_flight.clear()

    def _check_size(self, chunk: Chunk) -> None:
        limit = self._settings.max_chunk_bytes
        if not 1 <= len(chunk.data) <= limit:
            raise InvalidArgument(
                [
                    FieldViolation(
                        "chunk.data", f"must hold 1 to {limit} bytes, got {len(chunk.data)}"
                    )
                ]
            )

    def _past_end(self, end: int, total: int) -> OutOfRange:
        return OutOfRange(
            f"chunk ends at {end}, past the declared size {total}",
            reason="CHUNK_PAST_END",
            metadata={"committed_size": str(self._committed), "total_size": str(total)},
        )

    def _offset_mismatch(self, offset: int) -> FailedPrecondition:
        return FailedPrecondition(
            f"chunk at offset {offset}; the upload continues at {self._committed}",
            reason="OFFSET_MISMATCH",
            metadata={"committed_size": str(self._committed)},
        )

    async def _next(self) -> UploadMessage | _End | _Progress:
        self._check_interrupted()
        try:
            async with asyncio.timeout(self._settings.idle_timeout_seconds):
                item = await self._queue.get()
        except TimeoutError:
            await self._commit_quietly()
            raise Unavailable(
                f"no message for {self._settings.idle_timeout_seconds:g} s; resume the upload",
                reason="UPLOAD_IDLE_TIMEOUT",
                metadata={"committed_size": str(self._committed)},
            ) from None
        self._check_interrupted()
        if isinstance(item, BaseException):
            raise item
        if not isinstance(item, _Progress):
            self._room.release()
        return item

    def _check_interrupted(self) -> None:
        if self._interrupted is not None:
            raise self._interrupted

    async def _read(self, requests: AsyncIterator[UploadMessage]) -> None:
        try:
            async for message in requests:
                await self._room.acquire()
                if self._closed:
                    return
                self._queue.put_nowait(message)
            await self._room.acquire()
            self._queue.put_nowait(_End())
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the transport failed; the handler sees it in order
            self._queue.put_nowait(error)

    async def _commit_quietly(self) -> None:
        with contextlib.suppress(GatewayError):
            await self._commit()

    async def _close(self) -> None:
        if self._pump is not None:
            # Not cancelled: cancelling a read that grpc.aio has in progress can end the call
            # with INTERNAL instead of this stream's status. The read ends with the call; the
            # pump only needs room to get there.
            self._closed = True
            for _ in range(_READ_AHEAD + 1):
                self._room.release()
        try:
            if self._interrupted is None or isinstance(self._interrupted, Aborted):
                await self._commit_quietly()
        finally:
            for item in self._in_flight:
                with contextlib.suppress(Exception):
                    await item.written
                with contextlib.suppress(Exception):
                    await item.verified
            if self._committing is not None:
                with contextlib.suppress(Exception):
                    await self._committing
            for pool in (self._writer, self._hasher):
                if pool is not None:
                    pool.shutdown(wait=False)
            if self._part is not None:
                self._part.close()
            live = self._live
            if live is not None:
                if live.stream is self:
                    live.stream = None
                live.lock.release()


def _ignore_outcome(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


def _not_active(upload: Upload) -> FailedPrecondition:
    state = upload.state.value
    return FailedPrecondition(f"upload {upload.id} is {state.lower()}", reason=f"UPLOAD_{state}")
