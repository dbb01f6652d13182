"""Downloads with checksums, listings, and datasets from creation to a job that uses one."""

from __future__ import annotations

import asyncio
import hashlib
import os

import google_crc32c

import deepseek_api as ds
from deepseek.hpc.v1 import data_pb2
from deepseek_server.app import Gateway
from tests.integration.data.uploading import (
    CHUNK,
    Stub,
    dataset_file,
    download,
    exchange,
    failure,
    job_input,
    start,
    upload,
)
from tests.support import spec

DATA = os.urandom(2 * CHUNK + 1000)


async def test_a_download_from_an_offset_has_the_whole_files_sha256_and_a_crc32c_per_chunk(
    stub: Stub, client: ds.AsyncDeepSeekClient
) -> None:
    job = await client.create_job(spec("true"))
    ref = job_input(job.id, "in.bin")
    await upload(stub, ref, DATA)

    header, *parts = await download(stub, ref, offset=1000)
    limited = await download(stub, ref, offset=10, length=20)

    assert header.header.sha256 == hashlib.sha256(DATA).digest()
    assert header.header.size_bytes == len(DATA)
    assert [p.chunk.offset for p in parts] == [1000, 1000 + CHUNK]
    for part in parts:
        assert part.chunk.crc32c == google_crc32c.value(part.chunk.data)
        assert len(part.chunk.data) <= CHUNK
    assert b"".join(p.chunk.data for p in parts) == DATA[1000:]
    assert [m.chunk.data for m in limited[1:]] == [DATA[10:30]]


async def test_a_download_past_the_end_or_of_a_missing_file_is_refused(
    stub: Stub, client: ds.AsyncDeepSeekClient
) -> None:
    job = await client.create_job(spec("true"))
    ref = job_input(job.id, "in.bin")
    await upload(stub, ref, DATA)

    past = await failure(download(stub, ref, offset=len(DATA) + 1))
    missing = await failure(download(stub, job_input(job.id, "nope")))
    traversal = await failure(download(stub, job_input(job.id, "../inputs/in.bin")))
    outputs_early = await failure(
        download(stub, data_pb2.FileRef(job_id=job.id, area=data_pb2.FILE_AREA_OUTPUT, path="o"))
    )

    assert isinstance(past, ds.OutOfRange)
    assert isinstance(missing, ds.NotFound)
    assert isinstance(traversal, ds.InvalidArgument)
    assert isinstance(outputs_early, ds.FailedPrecondition)


async def test_list_files_shows_inputs_then_outputs_with_sizes_and_hashes_page_by_page(
    stub: Stub, client: ds.AsyncDeepSeekClient, gateway: Gateway
) -> None:
    job = await client.create_job(
        spec("mkdir -p out && printf result > out/r.txt && ln -s /etc/passwd out/leak")
    )
    for name in ("a", "b/c"):
        await upload(stub, job_input(job.id, name), DATA)
    await job.submit()
    await job.wait(timeout=30)

    pages = []
    token = ""
    while True:
        page = await stub.ListFiles(
            data_pb2.ListFilesRequest(job_id=job.id, page_size=2, page_token=token)
        )
        pages.append([(f.ref.area, f.ref.path) for f in page.files])
        token = page.next_page_token
        if not token:
            break
    everything = await stub.ListFiles(data_pb2.ListFilesRequest(job_id=job.id))
    output = [f for f in everything.files if f.ref.area == data_pb2.FILE_AREA_OUTPUT]
    result = await download(
        stub, data_pb2.FileRef(job_id=job.id, area=data_pb2.FILE_AREA_OUTPUT, path="out/r.txt")
    )
    leak = await failure(
        download(
            stub, data_pb2.FileRef(job_id=job.id, area=data_pb2.FILE_AREA_OUTPUT, path="out/leak")
        )
    )

    assert job.status == "COMPLETED"
    assert pages == [
        [(data_pb2.FILE_AREA_INPUT, "a"), (data_pb2.FILE_AREA_INPUT, "b/c")],
        [(data_pb2.FILE_AREA_OUTPUT, "out/r.txt")],
    ]
    assert (output[0].size_bytes, output[0].sha256) == (6, hashlib.sha256(b"result").digest())
    assert result[1].chunk.data == b"result"
    assert isinstance(leak, ds.NotFound)


async def test_a_dataset_is_created_filled_sealed_listed_and_deleted(stub: Stub) -> None:
    created = await stub.CreateDataset(
        data_pb2.CreateDatasetRequest(
            dataset=data_pb2.Dataset(name="genome", description="d", labels={"k": "v"}),
            request_id="r1",
        )
    )
    retried = await stub.CreateDataset(
        data_pb2.CreateDatasetRequest(
            dataset=data_pb2.Dataset(name="genome", description="d", labels={"k": "v"}),
            request_id="r1",
        )
    )
    duplicate = await failure(
        stub.CreateDataset(data_pb2.CreateDatasetRequest(dataset=data_pb2.Dataset(name="genome")))
    )
    bad_name = await failure(
        stub.CreateDataset(data_pb2.CreateDatasetRequest(dataset=data_pb2.Dataset(name="job-x")))
    )
    await upload(stub, dataset_file("genome", "chr1.fa"), DATA)
    sealed = await stub.SealDataset(data_pb2.SealDatasetRequest(name="genome"))
    sealed_again = await stub.SealDataset(data_pb2.SealDatasetRequest(name="genome"))
    listed = await stub.ListDatasets(data_pb2.ListDatasetsRequest())
    files = await stub.ListFiles(data_pb2.ListFilesRequest(dataset="genome"))
    await stub.DeleteDataset(data_pb2.DeleteDatasetRequest(name="genome"))
    deleted_again = await failure(stub.DeleteDataset(data_pb2.DeleteDatasetRequest(name="genome")))

    assert created.dataset.state == data_pb2.DATASET_STATE_OPEN
    assert retried.dataset.create_time == created.dataset.create_time
    assert isinstance(duplicate, ds.AlreadyExists)
    assert isinstance(bad_name, ds.InvalidArgument)
    assert sealed.dataset.state == data_pb2.DATASET_STATE_SEALED
    assert (sealed.dataset.file_count, sealed.dataset.size_bytes) == (1, len(DATA))
    assert sealed_again.dataset.seal_time == sealed.dataset.seal_time
    assert [d.name for d in listed.datasets] == ["genome"]
    assert [(f.ref.path, f.sha256) for f in files.files] == [
        ("chr1.fa", hashlib.sha256(DATA).digest())
    ]
    assert isinstance(deleted_again, ds.NotFound)


async def test_a_job_waits_for_its_dataset_to_be_sealed_then_finds_its_files_linked(
    stub: Stub, client: ds.AsyncDeepSeekClient, gateway: Gateway
) -> None:
    await stub.CreateDataset(data_pb2.CreateDatasetRequest(dataset=data_pb2.Dataset(name="ref")))
    done = await upload(stub, dataset_file("ref", "genome/chr1.fa"), DATA)
    missing = None
    try:
        await client.create_job(spec("true", dependencies=["nothere"]))
    except ds.InvalidArgument as error:
        missing = error
    job = await client.create_job(
        spec("sha256sum ref/genome/chr1.fa > digest", dependencies=["ref"]), submit=True
    )

    await asyncio.sleep(0.3)  # long enough for a job that is not held to start
    await job.refresh()
    waiting = (job.status, job.state_reason)
    in_use = await failure(stub.DeleteDataset(data_pb2.DeleteDatasetRequest(name="ref")))
    await stub.SealDataset(data_pb2.SealDatasetRequest(name="ref"))
    await job.wait(timeout=30)

    workdir = gateway.settings.storage.jobs_dir / job.id / "work"
    placed = workdir / "ref" / "genome" / "chr1.fa"
    source = gateway.data.dataset_dir("local", "ref") / "genome" / "chr1.fa"
    assert missing is not None
    assert waiting == ("QUEUED", "WAITING_FOR_DATASET")
    assert isinstance(in_use, ds.FailedPrecondition)
    assert in_use.metadata["job_id"] == job.id
    assert job.status == "COMPLETED"
    assert (workdir / "digest").read_text().split()[0] == done.file.sha256.hex()
    assert placed.stat().st_ino == source.stat().st_ino  # linked, not copied


async def test_uploads_to_a_dataset_are_cancelled_when_it_is_sealed(stub: Stub) -> None:
    await stub.CreateDataset(data_pb2.CreateDatasetRequest(dataset=data_pb2.Dataset(name="d")))
    responses, _ = await exchange(stub, [start(dataset_file("d", "x"), DATA)], half_close=True)

    await stub.SealDataset(data_pb2.SealDatasetRequest(name="d"))
    after = await stub.GetUploadStatus(
        data_pb2.GetUploadStatusRequest(upload_id=responses[0].upload_id)
    )

    assert after.upload.state == data_pb2.UPLOAD_STATE_CANCELLED
