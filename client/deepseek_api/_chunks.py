"""The upload protocol without I/O: what to send next, how much may be unacknowledged, and
whether a broken stream is resumed. Both clients drive an :class:`UploadState`."""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Callable
from pathlib import Path

import google_crc32c

from deepseek.hpc.v1 import data_pb2
from deepseek_api._config import RetryConfig
from deepseek_api._errors import (
    APIException,
    DataLoss,
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    ResourceExhausted,
    Unavailable,
    Unknown,
)
from deepseek_api._files import FileInfo
from deepseek_api._retry import backoff

_MIB = 1024 * 1024

CHUNK_BYTES = 4 * _MIB
"""Largest chunk sent, unless the server accepts less (its ``max_chunk_size``)."""

WINDOW_BYTES = 16 * _MIB
"""Most bytes sent and not yet acknowledged, unless the server's first answer names its own
window (its ``window_size``). The server acknowledges at least every 8 MiB it receives, so the
window must hold 8 MiB plus a chunk, or both sides would wait."""

ProgressCallback = Callable[[str, int, int], None]
"""Called with ``(local path, bytes done, bytes total)`` as a transfer advances."""

_RESUMABLE_REASONS = {
    FailedPrecondition: "OFFSET_MISMATCH",
    DataLoss: "CHUNK_CHECKSUM_MISMATCH",
}


def file_digest(path: Path) -> tuple[int, bytes]:
    """The size and SHA-256 of a local file. Blocking."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as file:
        while block := file.read(CHUNK_BYTES):
            digest.update(block)
            size += len(block)
    return size, digest.digest()


def read_chunk(fd: int, offset: int, length: int) -> tuple[bytes, int]:
    """``length`` bytes of an open file from ``offset`` and their CRC32C. Blocking.

    Raises:
        OSError: if the file is shorter than it was when it was hashed.
    """
    data = os.pread(fd, length, offset)
    if len(data) != length:
        raise OSError(f"the file shrank while it was being uploaded (at byte {offset})")
    return data, google_crc32c.value(data)


def chunk_request(offset: int, data: bytes, crc32c: int) -> data_pb2.UploadRequest:
    """An ``UploadRequest`` carrying one chunk."""
    # Field by field: UploadRequest(chunk=UploadChunk(data=...)) would copy the finished
    # UploadChunk into the request once more, which for 4 MiB costs 3x the copy itself.
    request = data_pb2.UploadRequest()
    chunk = request.chunk
    chunk.offset = offset
    chunk.data = data
    chunk.crc32c = crc32c
    return request


FINISH_REQUEST = data_pb2.UploadRequest(finish=data_pb2.UploadFinish())
"""The last message of an upload (the SHA-256 went with the start)."""


class UploadState:
    """One file's upload across the streams it takes.

    A stream begins with :meth:`first_request`; the server's first answer says where the
    upload stands (:attr:`ready`); chunks follow from :attr:`committed` while
    :meth:`may_send` allows, then :data:`FINISH_REQUEST`. When a stream breaks,
    :meth:`resume_delay` says whether (and after how long) to open the next one.
    """

    def __init__(
        self,
        target: data_pb2.FileRef,
        total_size: int,
        sha256: bytes,
        *,
        request_id: str,
        overwrite: bool,
        retry: RetryConfig,
        window: int = WINDOW_BYTES,
    ) -> None:
        self._start = data_pb2.UploadStart(
            target=target,
            total_size=total_size,
            sha256=sha256,
            request_id=request_id,
            overwrite=overwrite,
        )
        self.total_size = total_size
        self.upload_id: str | None = None
        self.committed = 0
        self.finished: FileInfo | None = None
        self.ready = False
        self._max_chunk = CHUNK_BYTES
        self._window = window
        self._sent_end = 0
        self._retry = retry
        self._failures = 0
        self._committed_at_failure = -1

    def first_request(self) -> data_pb2.UploadRequest:
        """The first message of a new stream: a start, or a resume once the upload has an
        id. A start carries the request id, so that a start repeated after a stream broke
        before its first answer attaches to the same upload."""
        self.ready = False
        if self.upload_id is None:
            return data_pb2.UploadRequest(start=self._start)
        return data_pb2.UploadRequest(resume=data_pb2.UploadResume(upload_id=self.upload_id))

    def acknowledged(self, response: data_pb2.UploadResponse) -> None:
        """Take in an answer of the server."""
        if response.upload_id:
            self.upload_id = response.upload_id
        if not self.ready:
            # The first answer of a stream: chunks continue from what is on the server's disk.
            self.ready = True
            self._sent_end = response.committed_size
            if response.max_chunk_size > 0:
                self._max_chunk = min(CHUNK_BYTES, response.max_chunk_size)
            if response.window_size > 0:
                self._window = response.window_size
        self.committed = response.committed_size
        if response.finished:
            self.committed = self.total_size
            self.finished = FileInfo.from_proto(response.file)

    @property
    def next_offset(self) -> int:
        """Where the next chunk starts."""
        return self._sent_end

    def next_length(self) -> int:
        """The length of the next chunk; 0 when every byte was sent."""
        return min(self._max_chunk, self.total_size - self._sent_end)

    def may_send(self, length: int) -> bool:
        """Whether a chunk of ``length`` bytes fits in the window of unacknowledged bytes."""
        in_flight = self._sent_end - self.committed
        return in_flight == 0 or in_flight + length <= self._window

    def sent(self, length: int) -> None:
        """Note a chunk of ``length`` bytes as sent."""
        self._sent_end += length

    def resume_delay(self, error: APIException) -> float:
        """Seconds to wait before resuming after the stream ended with ``error``.

        Resumed: UNAVAILABLE (a restart, a broken connection, an idle stream),
        DEADLINE_EXCEEDED, UNKNOWN and INTERNAL (grpc reports a stream torn down while
        chunks were being sent as either, hiding the server's status), a chunk at the wrong
        offset or with a bad CRC32C (resent from the committed size), and rate limiting
        with a ``RetryInfo``. Failures in a row without the committed size moving are
        bounded by the retry configuration's ``max_retries``.

        Raises:
            APIException: ``error`` itself when it is not resumable or retries ran out.
        """
        if not _resumable(error):
            raise error
        if self.committed > self._committed_at_failure:
            self._failures = 0
        self._committed_at_failure = self.committed
        self._failures += 1
        if self._failures > self._retry.max_retries:
            raise error
        if isinstance(error, ResourceExhausted) and error.retry_delay is not None:
            return error.retry_delay
        return backoff(self._retry, self._failures, random.random())


def _resumable(error: APIException) -> bool:
    # Resuming is always safe: the server's committed size decides where to continue.
    if isinstance(error, Unavailable | DeadlineExceeded | Unknown | Internal):
        return True
    if isinstance(error, ResourceExhausted):
        return error.retry_delay is not None
    reason = _RESUMABLE_REASONS.get(type(error))
    return reason is not None and error.reason == reason
