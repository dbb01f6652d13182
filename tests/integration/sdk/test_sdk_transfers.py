"""The SDK's uploads, downloads and datasets against a real gateway: resuming across a
gateway restart, attaching by request id, resuming partial downloads, and refusals."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc.aio
import pytest

import deepseek_api as ds
from deepseek.hpc.v1 import data_pb2_grpc
from deepseek_server.app import Gateway
from deepseek_server.config import Settings
from deepseek_server.data.paths import path_problem
from tests.integration.data.uploading import OpenStream, chunks, job_input, start
from tests.support import spec

KIB = 1024
SMALL_CHUNKS = {"max_chunk_bytes": 64 * KIB, "ack_every_bytes": 64 * KIB}
EXECUTOR = {"cpus": 2, "memory_gb": 8}


@pytest.fixture
def settings(settings_for: Callable[..., Settings]) -> Settings:
    """Settings with 64 KiB chunks and acknowledgements."""
    return settings_for(data=SMALL_CHUNKS, executor=EXECUTOR)


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[Gateway]:
    """A started gateway with small chunks."""
    started = Gateway(settings)
    await started.start()
    yield started
    await started.stop(grace=0)


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[ds.AsyncDeepSeekClient]:
    """An async SDK client of the gateway."""
    async with ds.AsyncDeepSeekClient(gateway.address) as connected:
        yield connected


def sha256(path: Path) -> bytes:
    return hashlib.sha256(path.read_bytes()).digest()


async def test_an_upload_resumes_where_the_gateway_stood_when_it_restarted(
    settings: Settings, tmp_path: Path
) -> None:
    first = Gateway(settings)
    await first.start()
    data = tmp_path / "big.bin"
    data.write_bytes(os.urandom(40 * 1024 * KIB))
    progressed = threading.Event()
    restarted = threading.Event()
    seen: list[int] = []

    def progress(path: str, done: int, total: int) -> None:
        seen.append(done)
        if len(seen) == 2:  # the second acknowledgement: the upload is under way
            progressed.set()
            assert restarted.wait(20)

    with ds.DeepSeekClient(first.address) as client:
        job = await asyncio.to_thread(client.create_job, spec("true"))
        uploading = asyncio.create_task(
            asyncio.to_thread(client.upload_file, job.id, data, progress=progress)
        )
        assert await asyncio.to_thread(progressed.wait, 20)
        assert not uploading.done()
        await first.stop(grace=0)
        second = Gateway(
            dataclasses.replace(
                settings, server=dataclasses.replace(settings.server, port=first.port)
            )
        )
        await second.start()
        try:
            restarted.set()
            info = await uploading
            stored = await asyncio.to_thread(lambda: list(client.list_files(job.id)))
        finally:
            restarted.set()
            await second.stop(grace=0)

    assert info.size == data.stat().st_size
    assert info.sha256 == sha256(data)
    assert [(f.path, f.size, f.sha256) for f in stored] == [("big.bin", info.size, info.sha256)]
    assert seen == sorted(seen), "the resumed upload went back before what was committed"
    assert seen[-1] == info.size


async def test_an_upload_with_the_request_id_of_a_broken_one_continues_it(
    gateway: Gateway, client: ds.AsyncDeepSeekClient, tmp_path: Path
) -> None:
    data = os.urandom(1024 * KIB)
    local = tmp_path / "conf.gro"
    local.write_bytes(data)
    job = await client.create_job(spec("true"))
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        stream = OpenStream(data_pb2_grpc.DataChunkServiceStub(channel))
        stream.send(start(job_input(job.id, "conf.gro"), data, request_id="upload-conf-1"))
        await stream.answer()
        stream.send(*chunks(data[: 256 * KIB]))
        committed = (await stream.until_committed(256 * KIB)).committed_size
        stream.call.cancel()  # the connection breaks: the process that uploaded died
    seen: list[int] = []

    info = await client.upload_file(
        job, local, request_id="upload-conf-1", progress=lambda p, done, t: seen.append(done)
    )

    assert committed == 256 * KIB
    assert seen[0] >= committed
    assert info.sha256 == hashlib.sha256(data).digest()


async def test_directories_upload_as_trees_and_results_come_back_checked(
    client: ds.AsyncDeepSeekClient, tmp_path: Path
) -> None:
    inputs = tmp_path / "params"
    (inputs / "deep").mkdir(parents=True)
    (inputs / "a.mdp").write_bytes(b"a" * 100_000)
    (inputs / "deep" / "b.mdp").write_bytes(b"b" * 200_000)
    (tmp_path / "topol.tpr").write_bytes(b"t" * 10)
    job = await client.create_job(
        spec("mkdir -p out && cat params/a.mdp params/deep/b.mdp topol.tpr > out/all.bin")
    )

    uploaded = await client.upload_input_files(
        job.id, [tmp_path / "topol.tpr", inputs], concurrency=3
    )
    await job.submit()
    await job.wait(timeout=30)
    done: list[tuple[str, int, int]] = []
    results = await client.download_results(
        job, tmp_path / "results", progress=lambda p, d, t: done.append((p, d, t))
    )

    assert [f.path for f in uploaded] == ["topol.tpr", "params/a.mdp", "params/deep/b.mdp"]
    assert job.status == "COMPLETED"
    assert results == [tmp_path / "results" / "out" / "all.bin"]
    assert results[0].read_bytes() == b"a" * 100_000 + b"b" * 200_000 + b"t" * 10
    assert done[-1] == (str(results[0]), 300_010, 300_010)
    assert not list((tmp_path / "results").rglob("*.deepseek-part"))


async def test_a_partial_download_continues_from_its_size_and_a_stale_one_is_replaced(
    client: ds.AsyncDeepSeekClient, tmp_path: Path
) -> None:
    job = await client.create_job(
        spec("head -c 1000000 /dev/urandom > out.bin", job_name="writer"), submit=True
    )
    await job.wait(timeout=30)
    whole = tmp_path / "whole.bin"
    await client.download_file(job.id, "out.bin", whole)
    content = whole.read_bytes()
    resumed = tmp_path / "resumed" / "out.bin"
    resumed.parent.mkdir()
    resumed.with_name("out.bin.deepseek-part").write_bytes(content[:300_000])
    stale = tmp_path / "stale" / "out.bin"
    stale.parent.mkdir()
    stale.with_name("out.bin.deepseek-part").write_bytes(b"\0" * 300_000)
    first_progress: list[int] = []

    await client.download_file(
        job.id, "out.bin", resumed, progress=lambda p, d, t: first_progress.append(d)
    )
    await client.download_file(job.id, "out.bin", stale)

    assert len(content) == 1_000_000
    assert first_progress[0] >= 300_000
    assert resumed.read_bytes() == content
    assert stale.read_bytes() == content


async def test_uploads_and_downloads_refused_by_the_contract_raise_its_errors(
    client: ds.AsyncDeepSeekClient, tmp_path: Path
) -> None:
    local = tmp_path / "x.txt"
    local.write_text("x")
    job = await client.create_job(spec("sleep 30"))
    await client.upload_file(job.id, local)

    with pytest.raises(ds.AlreadyExists):
        await client.upload_file(job.id, local)
    await client.upload_file(job.id, local, overwrite=True)
    await job.submit()
    with pytest.raises(ds.FailedPrecondition):
        await client.upload_file(job.id, local, "late.txt")
    with pytest.raises(ds.FailedPrecondition):
        await client.download_results(job.id, tmp_path / "early")
    with pytest.raises(ValueError, match="'\\.\\.'"):
        await client.upload_file(job.id, local, "../escape")
    await job.cancel()
    assert path_problem("x.txt") is None


async def test_a_dataset_is_filled_sealed_read_by_a_job_and_deleted(
    client: ds.AsyncDeepSeekClient, tmp_path: Path
) -> None:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "part-0.txt").write_text("hello ")
    (tmp_path / "corpus" / "part-1.txt").write_text("world")
    created = await client.create_dataset("corpus-2026", description="test", labels={"k": "v"})
    await client.upload_to_dataset("corpus-2026", {tmp_path / "corpus": ""}, seal=True)
    job = await client.create_job(
        spec(
            "cat corpus-2026/part-0.txt corpus-2026/part-1.txt > joined.txt",
            dependencies=["corpus-2026"],
        ),
        submit=True,
    )
    await job.wait(timeout=30)
    await client.download_results(job.id, tmp_path / "out")
    listed = [d.name async for d in client.list_datasets(state="SEALED")]
    files = [f.path async for f in client.list_files("corpus-2026")]
    sealed = await client.get_dataset("corpus-2026")
    await client.delete_dataset("corpus-2026")

    assert created.state == "OPEN"
    assert sealed.state == "SEALED"
    assert sealed.file_count == 2
    assert sealed.labels == {"k": "v"}
    assert listed == ["corpus-2026"]
    assert files == ["part-0.txt", "part-1.txt"]
    assert (tmp_path / "out" / "joined.txt").read_text() == "hello world"
    with pytest.raises(ds.NotFound):
        await client.get_dataset("corpus-2026")
