"""Downloading one file to a local path: resumable, checked, and visible only when whole.

Bytes go to ``<name>.deepseek-part`` next to the destination. A download that breaks
continues from that file's size, on the next stream or in a later run; every chunk's
CRC32C is checked as it arrives and the whole file's SHA-256 at the end, after which the
part file is renamed to the destination.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import random
import time
from collections.abc import AsyncGenerator, Callable, Generator
from pathlib import Path

import google_crc32c

from deepseek.hpc.v1 import data_pb2, job_pb2
from deepseek_api._chunks import CHUNK_BYTES, ProgressCallback
from deepseek_api._config import RetryConfig
from deepseek_api._errors import (
    APIException,
    DataLoss,
    DeadlineExceeded,
    FailedPrecondition,
    OutOfRange,
    Unavailable,
    Unknown,
)
from deepseek_api._files import FileInfo
from deepseek_api._job import is_terminal, state_name
from deepseek_api._retry import backoff

PART_SUFFIX = ".deepseek-part"

SyncOpener = Callable[[data_pb2.DownloadRequest], Generator[data_pb2.DownloadResponse]]
AsyncOpener = Callable[[data_pb2.DownloadRequest], AsyncGenerator[data_pb2.DownloadResponse]]


def check_outputs_final(job: job_pb2.Job) -> None:
    """Refuse to download a job's outputs before it is done: listing them would succeed,
    with whatever the job has written so far, and the downloads would then be refused.

    Raises:
        FailedPrecondition: if the job is not COMPLETED, FAILED or CANCELLED.
    """
    if not is_terminal(job):
        raise FailedPrecondition(
            f"job {job.id} is {state_name(job.state)}: "
            "its results can be downloaded once it is done"
        )


def part_path(destination: Path) -> Path:
    """Where the bytes of ``destination`` gather until they are complete."""
    return destination.with_name(destination.name + PART_SUFFIX)


class DownloadState:
    """One file's download across the streams it takes; its methods do blocking file I/O
    (the async client calls them in threads)."""

    def __init__(self, ref: data_pb2.FileRef, destination: Path, retry: RetryConfig) -> None:
        self._ref = ref
        self.destination = destination
        self.part = part_path(destination)
        self._retry = retry
        self._fd: int | None = None
        self._digest = hashlib.sha256()
        self.position = 0
        self.info: FileInfo | None = None
        self._resumed_from = 0
        self._failures = 0
        self._position_at_failure = -1

    def open(self) -> None:
        """Open (or create) the part file and hash what it already holds."""
        self.destination.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.part, os.O_RDWR | os.O_CREAT, 0o644)
        self._digest = hashlib.sha256()
        self.position = 0
        while block := os.pread(self._fd, CHUNK_BYTES, self.position):
            self._digest.update(block)
            self.position += len(block)
        self._resumed_from = self.position

    def close(self) -> None:
        """Close the part file (it stays, for a later resume)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def request(self) -> data_pb2.DownloadRequest:
        """The request of the next stream: from the part file's size."""
        return data_pb2.DownloadRequest(file=self._ref, offset=self.position)

    def header(self, info: data_pb2.FileInfo) -> None:
        """Take in the file's metadata, the first message of a stream."""
        self.info = FileInfo.from_proto(info)

    def chunk(self, chunk: data_pb2.DownloadChunk) -> None:
        """Check a chunk and append it to the part file.

        Raises:
            DataLoss: if it is out of place or fails its CRC32C check (the download
                resumes from what was written before it).
        """
        if chunk.offset != self.position:
            raise DataLoss(f"a chunk at offset {chunk.offset} arrived; expected {self.position}")
        if google_crc32c.value(chunk.data) != chunk.crc32c:
            raise DataLoss(f"the chunk at offset {chunk.offset} failed its CRC32C check")
        assert self._fd is not None
        written = 0
        while written < len(chunk.data):
            written += os.pwrite(self._fd, chunk.data[written:], self.position + written)
        self._digest.update(chunk.data)
        self.position += len(chunk.data)

    def complete(self) -> bool:
        """At the end of a stream: verify the SHA-256 and rename the part file.

        Returns:
            True when the file is in place; False when the part file held bytes of an
            older version of the file (the SHA-256 did not match after resuming) and
            was emptied, so that the download starts over.

        Raises:
            DataLoss: if the stream ended early, or the SHA-256 does not match though
                every byte came in this download.
        """
        assert self.info is not None
        assert self._fd is not None
        if self.position != self.info.size:
            raise DataLoss(f"the download ended at {self.position} of {self.info.size} bytes")
        if self._digest.digest() != self.info.sha256:
            if self._resumed_from > 0:
                self.restart()
                return False
            raise DataLoss(f"the SHA-256 of {self.info.path!r} does not match its content")
        os.fsync(self._fd)
        self.close()
        os.replace(self.part, self.destination)
        return True

    def restart(self) -> None:
        """Empty the part file: its bytes are not a prefix of the file."""
        assert self._fd is not None
        os.ftruncate(self._fd, 0)
        self._digest = hashlib.sha256()
        self.position = self._resumed_from = 0

    def resume_delay(self, error: APIException) -> float:
        """Seconds to wait before resuming after ``error``; OUT_OF_RANGE (a part file
        longer than the file) empties the part file first.

        Raises:
            APIException: ``error``, when not resumable or retries ran out.
        """
        if isinstance(error, OutOfRange) and self.position > 0:
            self.restart()
            return 0.0
        if not isinstance(error, Unavailable | DeadlineExceeded | Unknown | DataLoss):
            raise error
        if self.position > self._position_at_failure:
            self._failures = 0
        self._position_at_failure = self.position
        self._failures += 1
        if self._failures > self._retry.max_retries:
            raise error
        return backoff(self._retry, self._failures, random.random())


def download_sync(
    opener: SyncOpener, state: DownloadState, progress: ProgressCallback | None
) -> FileInfo:
    """Download as ``state`` describes, resuming broken streams. Blocking.

    Raises:
        APIException: if the server refuses, or resuming gave up.
    """
    state.open()
    try:
        while True:
            try:
                if _stream_sync(opener, state, progress):
                    assert state.info is not None
                    return state.info
            except APIException as error:
                time.sleep(state.resume_delay(error))
    finally:
        state.close()


def _stream_sync(
    opener: SyncOpener, state: DownloadState, progress: ProgressCallback | None
) -> bool:
    responses = opener(state.request())
    with contextlib.closing(responses):
        for response in responses:
            if response.HasField("header"):
                state.header(response.header)
            else:
                state.chunk(response.chunk)
            if progress is not None and state.info is not None:
                progress(str(state.destination), state.position, state.info.size)
    return state.complete()


async def download_async(
    opener: AsyncOpener, state: DownloadState, progress: ProgressCallback | None
) -> FileInfo:
    """The asyncio twin of :func:`download_sync`; file I/O goes through threads."""
    await asyncio.to_thread(state.open)
    try:
        while True:
            try:
                if await _stream_async(opener, state, progress):
                    assert state.info is not None
                    return state.info
            except APIException as error:
                await asyncio.sleep(state.resume_delay(error))
    finally:
        await asyncio.to_thread(state.close)


async def _stream_async(
    opener: AsyncOpener, state: DownloadState, progress: ProgressCallback | None
) -> bool:
    async with contextlib.aclosing(opener(state.request())) as responses:
        async for response in responses:
            if response.HasField("header"):
                state.header(response.header)
            else:
                await asyncio.to_thread(state.chunk, response.chunk)
            if progress is not None and state.info is not None:
                progress(str(state.destination), state.position, state.info.size)
    return await asyncio.to_thread(state.complete)
