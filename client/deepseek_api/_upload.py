"""Driving Upload streams, sync and async, until the file is finished or cannot be.

Each stream sends a start (or a resume), waits for the server's first answer, then sends
chunks from the committed size while the window allows, and a finish. A stream that
breaks is followed by another that resumes the upload (:meth:`UploadState.resume_delay`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from pathlib import Path

from deepseek.hpc.v1 import data_pb2
from deepseek_api._chunks import (
    FINISH_REQUEST,
    ProgressCallback,
    UploadState,
    chunk_request,
    read_chunk,
)
from deepseek_api._errors import APIException, Unavailable
from deepseek_api._files import FileInfo

SyncOpener = Callable[[Iterator[data_pb2.UploadRequest]], Generator[data_pb2.UploadResponse]]
"""Opens an Upload stream sending the given requests."""

AsyncOpener = Callable[
    [AsyncIterator[data_pb2.UploadRequest]], AsyncGenerator[data_pb2.UploadResponse]
]


def _ended_early() -> Unavailable:
    return Unavailable("the upload stream ended before the upload finished")


class _RequestFailure:
    """An exception raised while producing requests, which gRPC would only log."""

    error: BaseException | None = None


def upload_sync(
    opener: SyncOpener,
    local: Path,
    state: UploadState,
    progress: ProgressCallback | None,
) -> FileInfo:
    """Upload ``local`` as ``state`` describes, resuming broken streams. Blocking.

    Raises:
        APIException: if the server refuses the upload or resuming gave up.
        OSError: if the local file cannot be read (or shrank).
    """
    fd = os.open(local, os.O_RDONLY)
    try:
        while True:
            try:
                return _stream_sync(opener, fd, str(local), state, progress)
            except APIException as error:
                time.sleep(state.resume_delay(error))
    finally:
        os.close(fd)


def _stream_sync(
    opener: SyncOpener,
    fd: int,
    name: str,
    state: UploadState,
    progress: ProgressCallback | None,
) -> FileInfo:
    changed = threading.Condition()
    stopped = False
    failure = _RequestFailure()

    def room(length: int) -> bool:
        return stopped or state.may_send(length)

    def requests() -> Iterator[data_pb2.UploadRequest]:
        # Runs on a gRPC thread; it waits on `changed` for the answers the caller reads.
        try:
            yield state.first_request()
            with changed:
                changed.wait_for(lambda: stopped or state.ready)
                if stopped or state.finished is not None:
                    return
            while True:
                with changed:
                    length = state.next_length()
                    if length == 0:
                        break
                    changed.wait_for(functools.partial(room, length))
                    if stopped:
                        return
                    offset = state.next_offset
                    state.sent(length)
                data, crc = read_chunk(fd, offset, length)
                yield chunk_request(offset, data, crc)
            yield FINISH_REQUEST
        except Exception as error:
            failure.error = error
            raise

    responses = opener(requests())
    try:
        with contextlib.closing(responses):
            for response in responses:
                with changed:
                    state.acknowledged(response)
                    changed.notify_all()
                if progress is not None:
                    progress(name, state.committed, state.total_size)
                if state.finished is not None:
                    return state.finished
    except APIException:
        if failure.error is not None:
            raise failure.error from None
        raise
    finally:
        with changed:
            stopped = True
            changed.notify_all()
    raise _ended_early()


async def upload_async(
    opener: AsyncOpener,
    local: Path,
    state: UploadState,
    progress: ProgressCallback | None,
) -> FileInfo:
    """The asyncio twin of :func:`upload_sync`; file reads go through threads."""
    fd = await asyncio.to_thread(os.open, local, os.O_RDONLY)
    try:
        while True:
            try:
                return await _stream_async(opener, fd, str(local), state, progress)
            except APIException as error:
                await asyncio.sleep(state.resume_delay(error))
    finally:
        await asyncio.to_thread(os.close, fd)


async def _stream_async(
    opener: AsyncOpener,
    fd: int,
    name: str,
    state: UploadState,
    progress: ProgressCallback | None,
) -> FileInfo:
    changed = asyncio.Condition()
    stopped = False
    failure = _RequestFailure()

    def room(length: int) -> bool:
        return stopped or state.may_send(length)

    async def requests() -> AsyncIterator[data_pb2.UploadRequest]:
        try:
            yield state.first_request()
            async with changed:
                await changed.wait_for(lambda: stopped or state.ready)
            if stopped or state.finished is not None:
                return
            while (length := state.next_length()) > 0:
                async with changed:
                    await changed.wait_for(functools.partial(room, length))
                if stopped:
                    return
                offset = state.next_offset
                state.sent(length)
                data, crc = await asyncio.to_thread(read_chunk, fd, offset, length)
                yield chunk_request(offset, data, crc)
            yield FINISH_REQUEST
        except Exception as error:
            failure.error = error
            raise

    responses = opener(requests())
    try:
        async with contextlib.aclosing(responses):
            async for response in responses:
                state.acknowledged(response)
                async with changed:
                    changed.notify_all()
                if progress is not None:
                    progress(name, state.committed, state.total_size)
                if state.finished is not None:
                    return state.finished
    except APIException:
        if failure.error is not None:
            raise failure.error from None
        raise
    finally:
        # Lets the request generator end, so that gRPC's task sending it ends too.
        stopped = True
        async with changed:
            changed.notify_all()
    raise _ended_early()
