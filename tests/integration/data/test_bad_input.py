"""Every way an upload can be wrong is refused with the contract's code, and writes nothing."""

from __future__ import annotations

import hashlib
import os
import unicodedata
from pathlib import Path

import pytest

import deepseek_api as ds
from deepseek.hpc.v1 import data_pb2
from deepseek_server.app import Gateway
from deepseek_server.jobs.model import JobSpec
from deepseek_server.jobs.service import CreateRequest
from tests.integration.data.uploading import (
    CHUNK,
    DATA_SETTINGS,
    Stub,
    chunk,
    chunks,
    dataset_file,
    exchange,
    finish,
    job_input,
    resume,
    start,
    status,
    upload,
)
from tests.support import spec

DATA = os.urandom(3 * CHUNK)


def uploads_dir(gateway: Gateway) -> Path:
    return gateway.settings.storage.state_dir / "uploads"


def inputs_of(gateway: Gateway, job_id: str) -> Path:
    return gateway.settings.storage.jobs_dir / job_id / "inputs"


@pytest.mark.parametrize(
    "path",
    [
        "..",
        "a/../b",
        "../escape",
        "/etc/passwd",
        "a//b",
        "./a",
        "a/",
        "a\x00b",
        "x" * 256,
        "/".join(["d" * 200] * 21),
        "caf" + unicodedata.normalize("NFD", "é"),
        "tab\there",
        "",
    ],
    ids=[
        "dotdot",
        "inner-dotdot",
        "leading-dotdot",
        "absolute",
        "empty-component",
        "dot",
        "trailing-slash",
        "nul",
        "long-component",
        "long-path",
        "nfd",
        "control",
        "empty",
    ],
)
async def test_a_bad_path_is_refused_without_writing(
    stub: Stub, client: ds.AsyncDeepSeekClient, gateway: Gateway, path: str
) -> None:
    job = await client.create_job(spec("true"))

    responses, error = await exchange(stub, [start(job_input(job.id, path), DATA)])

    assert responses == []
    assert isinstance(error, ds.InvalidArgument)
    assert [v.field for v in error.field_violations] == ["start.target.path"]
    assert list(uploads_dir(gateway).iterdir()) == []
    assert not inputs_of(gateway, job.id).exists()


async def test_names_that_differ_only_in_normalisation_cannot_make_two_files(
    stub: Stub, client: ds.AsyncDeepSeekClient, gateway: Gateway
) -> None:
    job = await client.create_job(spec("true"))
    composed = unicodedata.normalize("NFC", "café.txt")
    decomposed = unicodedata.normalize("NFD", "café.txt")

    await upload(stub, job_input(job.id, composed), DATA)
    _, error = await exchange(stub, [start(job_input(job.id, decomposed), DATA, overwrite=True)])

    assert isinstance(error, ds.InvalidArgument)
    assert [p.name for p in inputs_of(gateway, job.id).iterdir()] == [composed]


async def test_a_symbolic_link_in_the_target_tree_is_never_followed(
    stub: Stub, client: ds.AsyncDeepSeekClient, gateway: Gateway, tmp_path: Path
) -> None:
    job = await client.create_job(spec("true"))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_bytes(b"keep")
    inputs = inputs_of(gateway, job.id)
    inputs.mkdir(parents=True)
    (inputs / "dir").symlink_to(outside)
    (inputs / "file").symlink_to(outside / "victim")

    _, through_dir = await exchange(stub, [start(job_input(job.id, "dir/x"), DATA)])
    _, onto_link = await exchange(stub, [start(job_input(job.id, "file"), DATA, overwrite=True)])

    for error in (through_dir, onto_link):
        assert isinstance(error, ds.InvalidArgument)
        assert error.reason == "UNSAFE_TARGET_PATH"
    assert sorted(p.name for p in outside.iterdir()) == ["victim"]
    assert (outside / "victim").read_bytes() == b"keep"


async def test_a_link_planted_after_the_start_is_not_followed_at_the_finish(
    stub: Stub, client: ds.AsyncDeepSeekClient, gateway: Gateway, tmp_path: Path
) -> None:
    job = await client.create_job(spec("true"))
    outside = tmp_path / "outside"
    outside.mkdir()
    responses, _ = await exchange(
        stub, [start(job_input(job.id, "sub/x"), DATA), *chunks(DATA)], half_close=True
    )
    inputs_of(gateway, job.id).mkdir(parents=True)
    (inputs_of(gateway, job.id) / "sub").symlink_to(outside)

    _, error = await exchange(stub, [resume(responses[0].upload_id), finish()])

    assert isinstance(error, ds.InvalidArgument)
    assert list(outside.iterdir()) == []


async def test_someone_elses_job_or_dataset_is_not_found(stub: Stub, gateway: Gateway) -> None:
    bobs_job = await gateway.jobs.create_one("bob", CreateRequest(JobSpec("j", "true")))
    await gateway.data.create_dataset("bob", "bobs", "", {}, "")

    _, to_job = await exchange(stub, [start(job_input(bobs_job.id, "x"), DATA)])
    _, to_dataset = await exchange(stub, [start(dataset_file("bobs", "x"), DATA)])
    _, to_missing = await exchange(stub, [start(job_input("job-0000000000", "x"), DATA)])

    assert isinstance(to_job, ds.NotFound)
    assert isinstance(to_dataset, ds.NotFound)
    assert isinstance(to_missing, ds.NotFound)
    assert str(to_job).replace(bobs_job.id, "ID") == str(to_missing).replace("job-0000000000", "ID")


async def test_a_submitted_job_or_a_sealed_dataset_takes_no_uploads(
    stub: Stub, client: ds.AsyncDeepSeekClient
) -> None:
    job = await client.create_job(spec("sleep 5"), submit=True)
    await stub.CreateDataset(data_pb2.CreateDatasetRequest(dataset=data_pb2.Dataset(name="ds")))
    await stub.SealDataset(data_pb2.SealDatasetRequest(name="ds"))

    _, to_job = await exchange(stub, [start(job_input(job.id, "x"), DATA)])
    _, to_dataset = await exchange(stub, [start(dataset_file("ds", "x"), DATA)])

    assert isinstance(to_job, ds.FailedPrecondition)
    assert to_job.reason == "JOB_NOT_CREATED"
    assert isinstance(to_dataset, ds.FailedPrecondition)
    assert to_dataset.reason == "DATASET_SEALED"
    await job.cancel()


@pytest.mark.parametrize(
    "offset",
    [CHUNK + 1, 2 * CHUNK, CHUNK - 1, 0],
    ids=["past-by-one", "past", "backwards-by-one", "backwards"],
)
async def test_a_chunk_at_the_wrong_offset_is_refused_with_the_committed_size(
    stub: Stub, client: ds.AsyncDeepSeekClient, offset: int
) -> None:
    job = await client.create_job(spec("true"))
    first = chunks(DATA)[0]

    responses, error = await exchange(
        stub, [start(job_input(job.id, "x"), DATA), first, chunk(offset, DATA[:CHUNK])]
    )

    assert isinstance(error, ds.FailedPrecondition)
    assert error.reason == "OFFSET_MISMATCH"
    assert error.metadata["committed_size"] == str(CHUNK)
    assert (await status(stub, responses[0].upload_id)).committed_size == CHUNK


async def test_a_chunk_with_a_wrong_crc32c_is_refused_and_the_committed_size_does_not_move(
    stub: Stub, client: ds.AsyncDeepSeekClient, gateway: Gateway
) -> None:
    job = await client.create_job(spec("true"))
    good, bad = chunks(DATA)[:2]
    corrupted = chunk(CHUNK, DATA[CHUNK : 2 * CHUNK], crc=bad.chunk.crc32c ^ 1)

    responses, error = await exchange(stub, [start(job_input(job.id, "x"), DATA), good, corrupted])
    upload_id = responses[0].upload_id
    committed = (await status(stub, upload_id)).committed_size
    _rest, resumed_error = await exchange(
        stub, [resume(upload_id), *chunks(DATA, committed), finish()]
    )

    assert isinstance(error, ds.DataLoss)
    assert error.reason == "CHUNK_CHECKSUM_MISMATCH"
    assert error.metadata["committed_size"] == str(CHUNK) == str(committed)
    assert resumed_error is None
    assert (inputs_of(gateway, job.id) / "x").read_bytes() == DATA


async def test_a_chunk_over_the_limit_is_refused_and_nothing_of_it_is_written(
    stub: Stub, client: ds.AsyncDeepSeekClient
) -> None:
    job = await client.create_job(spec("true"))
    data = os.urandom(CHUNK + 1)

    responses, error = await exchange(stub, [start(job_input(job.id, "x"), data), chunk(0, data)])
    _, empty = await exchange(stub, [resume(responses[0].upload_id), chunk(0, b"")])

    assert isinstance(error, ds.InvalidArgument)
    assert [v.field for v in error.field_violations] == ["chunk.data"]
    assert isinstance(empty, ds.InvalidArgument)
    assert (await status(stub, responses[0].upload_id)).committed_size == 0


async def test_data_beyond_the_declared_size_or_short_of_it_is_refused(
    stub: Stub, client: ds.AsyncDeepSeekClient, gateway: Gateway
) -> None:
    job = await client.create_job(spec("true"))
    declared_short = start(job_input(job.id, "long"), DATA, total_size=len(DATA) - 1)
    declared_long = start(job_input(job.id, "short"), DATA, total_size=len(DATA) + 1)

    _, beyond = await exchange(stub, [declared_short, *chunks(DATA)])
    _, short = await exchange(stub, [declared_long, *chunks(DATA), finish()])

    assert isinstance(beyond, ds.OutOfRange)
    assert beyond.metadata["committed_size"] == str(2 * CHUNK)
    assert isinstance(short, ds.FailedPrecondition)
    assert short.reason == "UPLOAD_INCOMPLETE"
    assert not inputs_of(gateway, job.id).exists()


async def test_a_wrong_sha256_fails_the_upload_and_no_file_appears(
    stub: Stub, client: ds.AsyncDeepSeekClient, gateway: Gateway
) -> None:
    job = await client.create_job(spec("true"))
    wrong = hashlib.sha256(b"something else").digest()

    responses, error = await exchange(
        stub, [start(job_input(job.id, "x"), DATA, sha256=wrong), *chunks(DATA), finish()]
    )
    _, unannounced = await exchange(
        stub, [start(job_input(job.id, "y"), DATA, sha256=b""), *chunks(DATA), finish()]
    )

    assert isinstance(error, ds.DataLoss)
    assert error.reason == "SHA256_MISMATCH"
    assert (await status(stub, responses[0].upload_id)).state == data_pb2.UPLOAD_STATE_FAILED
    assert isinstance(unannounced, ds.InvalidArgument)
    assert [v.field for v in unannounced.field_violations] == ["finish.sha256"]
    assert not inputs_of(gateway, job.id).exists()
    assert [p.name for p in uploads_dir(gateway).iterdir()] == [
        f"{(await _only_active(stub, gateway))}.part"
    ]


async def _only_active(stub: Stub, gateway: Gateway) -> str:
    names = [p.name.removesuffix(".part") for p in uploads_dir(gateway).iterdir()]
    for name in names:
        assert (await status(stub, name)).state == data_pb2.UPLOAD_STATE_ACTIVE
    return names[0]


async def test_a_file_over_the_size_limit_or_the_quota_is_refused_before_anything_is_written(
    stub: Stub, client: ds.AsyncDeepSeekClient, gateway: Gateway
) -> None:
    job = await client.create_job(spec("true"))
    limit = int(str(DATA_SETTINGS["max_file_bytes"]))
    quota = int(str(DATA_SETTINGS["storage_quota_bytes"]))
    big = start(job_input(job.id, "big"), b"", total_size=limit + 1, sha256=b"")
    await exchange(
        stub, [start(job_input(job.id, "a"), b"", total_size=limit, sha256=b"")], half_close=True
    )
    await exchange(
        stub, [start(job_input(job.id, "b"), b"", total_size=limit, sha256=b"")], half_close=True
    )

    _, too_big = await exchange(stub, [big])
    _, over_quota = await exchange(
        stub, [start(job_input(job.id, "c"), b"", total_size=1, sha256=b"")]
    )

    assert isinstance(too_big, ds.InvalidArgument)
    assert [v.field for v in too_big.field_violations] == ["start.total_size"]
    assert isinstance(over_quota, ds.ResourceExhausted)
    assert over_quota.quota_violations == [
        ds.QuotaViolation("user:local/storage_bytes", f"limit {quota}, used {quota}, requested 1")
    ]
    parts = list(uploads_dir(gateway).iterdir())
    assert len(parts) == 2  # the two accepted uploads, "a" and "b"
    assert [p.stat().st_size for p in parts] == [0, 0]


async def test_an_existing_file_is_replaced_only_when_asked(
    stub: Stub, client: ds.AsyncDeepSeekClient, gateway: Gateway
) -> None:
    job = await client.create_job(spec("true"))
    await upload(stub, job_input(job.id, "x"), DATA)
    replacement = os.urandom(100)

    _, refused = await exchange(stub, [start(job_input(job.id, "x"), replacement)])
    await upload(stub, job_input(job.id, "x"), replacement, overwrite=True)

    assert isinstance(refused, ds.AlreadyExists)
    assert (inputs_of(gateway, job.id) / "x").read_bytes() == replacement


async def test_the_first_message_must_start_or_resume(stub: Stub) -> None:
    _, finish_first = await exchange(stub, [finish()])
    _, empty = await exchange(stub, [data_pb2.UploadRequest()])

    assert isinstance(finish_first, ds.InvalidArgument)
    assert isinstance(empty, ds.InvalidArgument)
