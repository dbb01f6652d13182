"""An upload survives kill -9 of the gateway, and no partial file ever shows under its name."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import google_crc32c
import grpc.aio
import pytest

import deepseek_api as ds
from deepseek.hpc.v1 import data_pb2, data_pb2_grpc
from tests.integration.data.uploading import job_input, resume, status
from tests.support import gateway_process, spec

SIZE = 1024 * 1024 * 1024
CHUNK = 4 * 1024 * 1024
KILL_AFTER = 400 * 1024 * 1024
_BASE = os.urandom(4 * CHUNK)


def piece(offset: int) -> bytes:
    """The source file's chunk at ``offset``: distinct for every offset, made without disk."""
    block = _BASE[(offset // CHUNK) % 4 * CHUNK :][:CHUNK]
    return offset.to_bytes(8, "big") + block[8 : min(CHUNK, SIZE - offset)]


def source_sha256() -> bytes:
    hasher = hashlib.sha256()
    for offset in range(0, SIZE, CHUNK):
        hasher.update(piece(offset))
    return hasher.digest()


async def requests(
    first: data_pb2.UploadRequest, offset: int
) -> AsyncIterator[data_pb2.UploadRequest]:
    yield first
    while offset < SIZE:
        data = piece(offset)
        yield data_pb2.UploadRequest(
            chunk=data_pb2.UploadChunk(offset=offset, data=data, crc32c=google_crc32c.value(data))
        )
        offset += len(data)
    yield data_pb2.UploadRequest(finish=data_pb2.UploadFinish())


class Watcher(threading.Thread):
    """Polls the target path; records every sighting of a file that is not the whole file."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.partial_sightings: list[int] = []
        self.polls = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.polls += 1
            try:
                size = os.lstat(self.path).st_size
            except FileNotFoundError:
                pass
            else:
                if size != SIZE:
                    self.partial_sightings.append(size)
            time.sleep(0.001)


async def upload_until_killed(
    address: str, start: data_pb2.UploadRequest, process: subprocess.Popen[str]
) -> tuple[str, grpc.aio.AioRpcError]:
    """Upload from 0 and SIGKILL the gateway once KILL_AFTER bytes are acknowledged; the
    upload's id and the error the stream ended with."""
    upload_id = ""
    async with grpc.aio.insecure_channel(address) as channel:
        call = data_pb2_grpc.DataChunkServiceStub(channel).Upload(requests(start, 0))
        try:
            async for answer in call:
                upload_id = upload_id or answer.upload_id
                if answer.committed_size >= KILL_AFTER and process.poll() is None:
                    process.send_signal(signal.SIGKILL)
        except grpc.aio.AioRpcError as error:
            return upload_id, error
    raise AssertionError("the upload finished before the gateway was killed")


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_kill_9_mid_upload_then_resume_gives_the_sources_sha256_and_no_partial_file(
    tmp_path: Path,
) -> None:
    state_dir = tmp_path / "var"
    expected = await asyncio.to_thread(source_sha256)

    async with gateway_process(state_dir) as (process, address):
        async with ds.AsyncDeepSeekClient(address) as client:
            job = await client.create_job(spec("true"))
        watcher = Watcher(state_dir / "jobs" / job.id / "inputs" / "big.bin")
        watcher.start()
        start = data_pb2.UploadRequest(
            start=data_pb2.UploadStart(
                target=job_input(job.id, "big.bin"), total_size=SIZE, sha256=expected
            )
        )
        upload_id, cut = await upload_until_killed(address, start, process)
        await asyncio.to_thread(process.wait, 30)

    async with (
        gateway_process(state_dir) as (_, address),
        grpc.aio.insecure_channel(address) as channel,
    ):
        stub = data_pb2_grpc.DataChunkServiceStub(channel)
        committed = (await status(stub, upload_id)).committed_size
        answers = [a async for a in stub.Upload(requests(resume(upload_id), committed))]
    watcher.done.set()
    watcher.join()

    final = answers[-1]
    # INTERNAL when the cut hits a write in progress on the client: grpc/grpc#36066.
    assert cut.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL)
    assert KILL_AFTER <= committed < SIZE
    assert answers[0].committed_size == committed
    assert final.finished
    assert final.file.sha256 == expected
    assert hashlib.sha256(watcher.path.read_bytes()).digest() == expected
    assert watcher.partial_sightings == []
    assert watcher.polls > 100
