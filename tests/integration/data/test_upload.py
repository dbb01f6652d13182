"""Uploads that succeed, resume after a cut or a restart, and end only once."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import grpc.aio

import deepseek_api as ds
from deepseek.hpc.v1 import data_pb2, data_pb2_grpc
from deepseek_server.app import Gateway
from deepseek_server.config import Settings
from tests.integration.data.uploading import (
    CHUNK,
    DATA_SETTINGS,
    WINDOW,
    OpenStream,
    Stub,
    chunk,
    chunks,
    exchange,
    failure,
    finish,
    job_input,
    resume,
    start,
    status,
    upload,
)
from tests.support import spec

DATA = os.urandom(5 * CHUNK + 123)


def inputs_of(gateway: Gateway, job_id: str) -> Path:
    return gateway.settings.storage.jobs_dir / job_id / "inputs"


async def test_an_upload_acknowledges_as_it_commits_and_makes_the_file_visible_at_the_end(
    stub: Stub, client: ds.AsyncDeepSeekClient, gateway: Gateway
) -> None:
    job = await client.create_job(spec("true"))
    target = job_input(job.id, "data/in.bin")

    responses, error = await exchange(stub, [start(target, DATA), *chunks(DATA), finish()])

    assert error is None
    first, *acks, last = responses
    assert (first.committed_size, first.max_chunk_size, first.window_size) == (0, CHUNK, WINDOW)
    assert first.upload_id.startswith("upload-")
    sizes = [a.committed_size for a in acks]
    assert sizes == sorted(set(sizes))
    assert all(size % CHUNK == 0 or size == len(DATA) for size in sizes)
    assert last.finished
    assert last.file.size_bytes == len(DATA)
    assert last.file.sha256 == hashlib.sha256(DATA).digest()
    assert last.file.ref.path == "data/in.bin"
    assert (inputs_of(gateway, job.id) / "data" / "in.bin").read_bytes() == DATA
    assert (await status(stub, first.upload_id)).state == data_pb2.UPLOAD_STATE_FINISHED


async def test_a_client_that_waits_gets_an_acknowledgement_for_every_commit_point(
    stub: Stub, client: ds.AsyncDeepSeekClient
) -> None:
    job = await client.create_job(spec("true"))
    stream = OpenStream(stub)
    stream.send(start(job_input(job.id, "in.bin"), DATA))
    acked = [(await stream.answer()).committed_size]

    *whole, tail = chunks(DATA)
    for request in whole:
        stream.send(request)
        acked.append((await stream.answer()).committed_size)
    stream.send(tail, finish())  # the tail is under the cadence: acknowledged by the finish
    last = await stream.answer()

    assert acked == [0, *(CHUNK * n for n in range(1, 6))]
    assert (last.finished, last.committed_size) == (True, len(DATA))


async def test_half_closing_is_acknowledged_and_the_upload_resumes_in_a_new_stream(
    stub: Stub, client: ds.AsyncDeepSeekClient, gateway: Gateway
) -> None:
    job = await client.create_job(spec("true"))
    target = job_input(job.id, "in.bin")
    first_half = chunks(DATA)[:2]

    responses, error = await exchange(stub, [start(target, DATA), *first_half], half_close=True)
    upload_id = responses[0].upload_id
    partial = inputs_of(gateway, job.id) / "in.bin"
    seen = (await status(stub, upload_id)).committed_size
    assert error is None
    assert responses[-1].committed_size == 2 * CHUNK == seen
    assert not partial.exists()

    rest, error = await exchange(stub, [resume(upload_id), *chunks(DATA, 2 * CHUNK), finish()])

    assert error is None
    assert rest[0].committed_size == 2 * CHUNK
    assert rest[-1].finished
    assert partial.read_bytes() == DATA


async def test_a_dropped_stream_keeps_what_was_committed_and_the_client_resumes_there(
    stub: Stub, client: ds.AsyncDeepSeekClient, gateway: Gateway
) -> None:
    job = await client.create_job(spec("true"))
    stream = OpenStream(stub)
    stream.send(start(job_input(job.id, "in.bin"), DATA), *chunks(DATA)[:3])
    upload_id = (await stream.answer()).upload_id
    await stream.until_committed(3 * CHUNK)

    stream.call.cancel()  # the network cut: no half-close, no finish
    responses, error = await exchange(stub, [resume(upload_id)], half_close=True)
    committed = responses[0].committed_size
    rest, error = await exchange(stub, [resume(upload_id), *chunks(DATA, committed), finish()])

    assert committed == 3 * CHUNK
    assert error is None
    assert rest[-1].finished
    assert (inputs_of(gateway, job.id) / "in.bin").read_bytes() == DATA


async def test_an_upload_resumes_after_the_gateway_restarts_on_the_same_state(
    settings_for: Callable[..., Settings],
) -> None:
    settings = settings_for(data=DATA_SETTINGS)
    first = Gateway(settings)
    await first.start()
    async with ds.AsyncDeepSeekClient(first.address) as sdk:
        job = await sdk.create_job(spec("true"))
    async with grpc.aio.insecure_channel(first.address) as channel:
        stub = data_pb2_grpc.DataChunkServiceStub(channel)
        responses, _ = await exchange(
            stub, [start(job_input(job.id, "in.bin"), DATA), *chunks(DATA)[:4]], half_close=True
        )
    await first.stop(grace=0)
    upload_id = responses[0].upload_id

    second = Gateway(settings)
    await second.start()
    try:
        async with grpc.aio.insecure_channel(second.address) as channel:
            stub = data_pb2_grpc.DataChunkServiceStub(channel)
            committed = (await status(stub, upload_id)).committed_size
            rest, error = await exchange(
                stub, [resume(upload_id), *chunks(DATA, committed), finish()]
            )
    finally:
        await second.stop(grace=0)

    assert committed == 4 * CHUNK
    assert error is None
    assert rest[-1].file.sha256 == hashlib.sha256(DATA).digest()
    assert (inputs_of(second, job.id) / "in.bin").read_bytes() == DATA


async def test_finishing_twice_and_resuming_a_finished_upload_give_the_same_answer(
    stub: Stub, client: ds.AsyncDeepSeekClient
) -> None:
    job = await client.create_job(spec("true"))
    done = await upload(stub, job_input(job.id, "in.bin"), DATA, request_id="once")

    again, error = await exchange(stub, [resume(done.upload_id)])
    retried, retry_error = await exchange(
        stub, [start(job_input(job.id, "in.bin"), DATA, request_id="once")]
    )

    assert (error, retry_error) == (None, None)
    for answer in (again, retried):
        assert len(answer) == 1
        assert answer[0].finished
        assert answer[0].upload_id == done.upload_id
        assert answer[0].file.sha256 == done.file.sha256


async def test_a_second_stream_takes_over_and_the_first_ends_aborted(
    stub: Stub, client: ds.AsyncDeepSeekClient, gateway: Gateway
) -> None:
    job = await client.create_job(spec("true"))
    first = OpenStream(stub)
    first.send(start(job_input(job.id, "in.bin"), DATA), *chunks(DATA)[:2])
    upload_id = (await first.answer()).upload_id
    await first.until_committed(2 * CHUNK)

    second = OpenStream(stub)
    second.send(resume(upload_id))
    taken_over = await second.answer()
    aborted = await first.error()
    second.send(*chunks(DATA, taken_over.committed_size), finish())
    last = await second.until_committed(len(DATA))
    while not last.finished:
        last = await second.answer()

    assert isinstance(aborted, ds.Aborted)
    assert aborted.reason == "UPLOAD_TAKEN_OVER"
    assert taken_over.committed_size == 2 * CHUNK
    assert (inputs_of(gateway, job.id) / "in.bin").read_bytes() == DATA


async def test_a_silent_stream_is_closed_after_the_idle_timeout_and_stays_resumable(
    stub: Stub, client: ds.AsyncDeepSeekClient
) -> None:
    job = await client.create_job(spec("true"))
    stream = OpenStream(stub)
    stream.send(start(job_input(job.id, "in.bin"), DATA), *chunks(DATA)[:2])
    upload_id = (await stream.answer()).upload_id

    error = await stream.error()  # nothing more is sent: the server gives up after 2 s
    after = await status(stub, upload_id)

    assert isinstance(error, ds.Unavailable)
    assert error.reason == "UPLOAD_IDLE_TIMEOUT"
    assert error.metadata["committed_size"] == str(2 * CHUNK)
    assert (after.state, after.committed_size) == (data_pb2.UPLOAD_STATE_ACTIVE, 2 * CHUNK)


async def test_cancelling_discards_the_upload_and_submitting_the_job_cancels_its_uploads(
    stub: Stub, client: ds.AsyncDeepSeekClient, gateway: Gateway
) -> None:
    job = await client.create_job(spec("true"))
    responses, _ = await exchange(
        stub, [start(job_input(job.id, "a"), DATA), *chunks(DATA)[:1]], half_close=True
    )
    cancelled = await stub.CancelUpload(
        data_pb2.CancelUploadRequest(upload_id=responses[0].upload_id)
    )
    again = await stub.CancelUpload(data_pb2.CancelUploadRequest(upload_id=responses[0].upload_id))
    other, _ = await exchange(
        stub, [start(job_input(job.id, "b"), DATA), *chunks(DATA)[:1]], half_close=True
    )

    await job.submit()
    after_submit = await status(stub, other[0].upload_id)
    _refused, error = await exchange(stub, [resume(other[0].upload_id)])

    assert cancelled.upload.state == again.upload.state == data_pb2.UPLOAD_STATE_CANCELLED
    assert after_submit.state == data_pb2.UPLOAD_STATE_CANCELLED
    assert isinstance(error, ds.FailedPrecondition)
    assert error.reason == "UPLOAD_CANCELLED"
    assert list((gateway.settings.storage.state_dir / "uploads").iterdir()) == []


async def test_someone_elses_or_an_unknown_upload_is_not_found(stub: Stub) -> None:
    error = await failure(
        stub.GetUploadStatus(data_pb2.GetUploadStatusRequest(upload_id="upload-x"))
    )
    _, resumed = await exchange(stub, [resume("upload-x")])

    assert isinstance(error, ds.NotFound)
    assert isinstance(resumed, ds.NotFound)


async def test_a_chunk_for_a_new_upload_is_checked_before_anything_is_written(
    stub: Stub, client: ds.AsyncDeepSeekClient, gateway: Gateway
) -> None:
    job = await client.create_job(spec("true"))
    _, error = await exchange(stub, [chunk(0, b"x")])

    assert isinstance(error, ds.InvalidArgument)
    assert list((gateway.settings.storage.state_dir / "uploads").iterdir()) == []
    assert asyncio.get_running_loop() is not None
    assert job.status == "CREATED"
