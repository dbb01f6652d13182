"""Building Upload requests and driving Upload streams with the raw stub."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any, TypeAlias

import google_crc32c
import grpc.aio

import deepseek_api as ds
from deepseek.hpc.v1 import data_pb2, data_pb2_grpc

KIB = 1024
CHUNK = 64 * KIB
WINDOW = 4 * CHUNK
DATA_SETTINGS: dict[str, object] = {
    "max_chunk_bytes": CHUNK,
    "ack_every_bytes": CHUNK,
    "upload_window_bytes": WINDOW,
    "idle_timeout_seconds": 2.0,
    "storage_quota_bytes": 8 * 1024 * KIB,
    "max_file_bytes": 4 * 1024 * KIB,
}

if TYPE_CHECKING:
    # DataChunkServiceStub(aio_channel) is typed as this class, which exists only in the stubs.
    Stub: TypeAlias = data_pb2_grpc.DataChunkServiceAsyncStub
else:
    Stub = data_pb2_grpc.DataChunkServiceStub


def job_input(job_id: str, path: str) -> data_pb2.FileRef:
    """The address of a job's input file."""
    return data_pb2.FileRef(job_id=job_id, area=data_pb2.FILE_AREA_INPUT, path=path)


def dataset_file(name: str, path: str) -> data_pb2.FileRef:
    """The address of a dataset's file."""
    return data_pb2.FileRef(dataset=name, path=path)


def start(target: data_pb2.FileRef, data: bytes, **fields: Any) -> data_pb2.UploadRequest:
    """A start for ``data`` at ``target``, declaring its size and SHA-256 unless overridden."""
    fields.setdefault("total_size", len(data))
    fields.setdefault("sha256", hashlib.sha256(data).digest())
    return data_pb2.UploadRequest(start=data_pb2.UploadStart(target=target, **fields))


def resume(upload_id: str) -> data_pb2.UploadRequest:
    """A resume of an upload."""
    return data_pb2.UploadRequest(resume=data_pb2.UploadResume(upload_id=upload_id))


def chunk(offset: int, data: bytes, crc: int | None = None) -> data_pb2.UploadRequest:
    """A chunk with its CRC32C (or the given, possibly wrong, one)."""
    value = google_crc32c.value(data) if crc is None else crc
    return data_pb2.UploadRequest(
        chunk=data_pb2.UploadChunk(offset=offset, data=data, crc32c=value)
    )


def chunks(data: bytes, offset: int = 0, size: int = CHUNK) -> list[data_pb2.UploadRequest]:
    """Chunks of ``data`` from ``offset`` to its end."""
    return [chunk(at, data[at : at + size]) for at in range(offset, len(data), size)]


def finish(sha256: bytes = b"") -> data_pb2.UploadRequest:
    """The finish message."""
    return data_pb2.UploadRequest(finish=data_pb2.UploadFinish(sha256=sha256))


async def exchange(
    stub: Stub, requests: Iterable[data_pb2.UploadRequest], *, half_close: bool = False
) -> tuple[list[data_pb2.UploadResponse], ds.APIException | None]:
    """Send ``requests`` (then half-close, if asked), and collect the answers and the error the
    stream ended with (None if it ended OK).

    A test sends nothing after the message the server is expected to end the stream on: a
    grpc.aio client write that fails because the call has ended replaces the server's status
    with INTERNAL (grpc/grpc#36066), which would hide the status under test.
    """
    call = stub.Upload()
    responses: list[data_pb2.UploadResponse] = []
    try:
        for request in requests:
            await call.write(request)
        if half_close:
            await call.done_writing()
        async with asyncio.timeout(30):
            while (response := await call.read()) is not grpc.aio.EOF:
                assert isinstance(response, data_pb2.UploadResponse)
                responses.append(response)
    except grpc.aio.AioRpcError as error:
        return responses, ds.from_rpc_error(error)
    code = await call.code()
    if code != grpc.StatusCode.OK:  # pragma: no cover - read() raises first
        raise AssertionError(code)
    return responses, None


async def upload(
    stub: Stub, target: data_pb2.FileRef, data: bytes, **fields: Any
) -> data_pb2.UploadResponse:
    """Upload ``data`` in one stream; the last answer (finished)."""
    responses, error = await exchange(
        stub, [start(target, data, **fields), *chunks(data), finish()]
    )
    assert error is None, error
    assert responses[-1].finished
    return responses[-1]


async def status(stub: Stub, upload_id: str) -> data_pb2.UploadSession:
    """The upload as GetUploadStatus reports it."""
    response = await stub.GetUploadStatus(data_pb2.GetUploadStatusRequest(upload_id=upload_id))
    upload: data_pb2.UploadSession = response.upload
    return upload


async def download(
    stub: Stub, ref: data_pb2.FileRef, offset: int = 0, length: int = 0
) -> list[data_pb2.DownloadResponse]:
    """Every message of a download."""
    call = stub.Download(data_pb2.DownloadRequest(file=ref, offset=offset, length=length))
    return [message async for message in call]


async def failure(awaitable: Any) -> ds.APIException:
    """The SDK exception a unary call fails with."""
    try:
        await awaitable
    except grpc.aio.AioRpcError as error:
        return ds.from_rpc_error(error)
    raise AssertionError("the call succeeded")


class OpenStream:
    """An Upload stream the test feeds message by message and keeps open."""

    def __init__(self, stub: Stub) -> None:
        self._queue: asyncio.Queue[data_pb2.UploadRequest | None] = asyncio.Queue()
        self.call = stub.Upload(self._requests())

    async def _requests(self) -> AsyncIterator[data_pb2.UploadRequest]:
        while (request := await self._queue.get()) is not None:
            yield request

    def send(self, *requests: data_pb2.UploadRequest) -> None:
        """Queue messages for sending."""
        for request in requests:
            self._queue.put_nowait(request)

    def close(self) -> None:
        """Half-close."""
        self._queue.put_nowait(None)

    async def answer(self) -> data_pb2.UploadResponse:
        """The next answer."""
        async with asyncio.timeout(30):
            response = await self.call.read()
        assert response is not grpc.aio.EOF, "the stream ended"
        assert isinstance(response, data_pb2.UploadResponse)
        return response

    async def until_committed(self, size: int) -> data_pb2.UploadResponse:
        """Answers until one acknowledges at least ``size`` bytes."""
        while True:
            response = await self.answer()
            if response.committed_size >= size:
                return response

    async def error(self) -> ds.APIException:
        """The error the stream ends with (answers before it are skipped)."""
        try:
            async with asyncio.timeout(30):
                while await self.call.read() is not grpc.aio.EOF:
                    pass
        except grpc.aio.AioRpcError as error:
            return ds.from_rpc_error(error)
        raise AssertionError("the stream ended without an error")


async def _aiter(items: list[data_pb2.UploadRequest]) -> AsyncIterator[data_pb2.UploadRequest]:
    for item in items:
        yield item
