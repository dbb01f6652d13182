"""Ended uploads are forgotten after their retention by the gateway's periodic upload task;
active ones and finished files stay."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

import deepseek_api as ds
from deepseek.hpc.v1 import data_pb2
from deepseek_server.app import Gateway
from deepseek_server.config import Settings
from tests.integration.data.uploading import (
    DATA_SETTINGS,
    OpenStream,
    Stub,
    chunks,
    download,
    exchange,
    failure,
    finish,
    job_input,
    start,
    status,
    upload,
)
from tests.support import spec

DATA = os.urandom(3 * 64 * 1024 + 7)

SHORT_LIVED = {
    **DATA_SETTINGS,
    "upload_expiry_seconds": 1.0,
    "upload_retention_seconds": 1.0,
    # The stream held open below must outlast expiry and retention.
    "idle_timeout_seconds": 60.0,
}


class PurgeReports(logging.Handler):
    """Counts the uploads the gateway reports purged and wakes a waiter at each report."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.purged = 0
        self._reported = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == "ended uploads purged":
            self.purged += int(record.__dict__["count"])
            self._reported.set()

    async def until(self, count: int) -> None:
        """Return once ``count`` uploads were reported purged."""
        while self.purged < count:
            self._reported.clear()
            await self._reported.wait()


@pytest.fixture
def purges() -> Iterator[PurgeReports]:
    """Purge reports of the data service's log (at INFO, which tests do not log otherwise)."""
    logger = logging.getLogger("deepseek_server.data.service")
    reports, level = PurgeReports(), logger.level
    logger.addHandler(reports)
    logger.setLevel(logging.INFO)
    yield reports
    logger.removeHandler(reports)
    logger.setLevel(level)


@pytest.fixture
async def gateway(settings_for: Callable[..., Settings]) -> AsyncIterator[Gateway]:
    """A gateway whose uploads expire after 1 s and whose ended uploads are kept 1 s (the
    conftest's ``stub`` and ``client`` then talk to it)."""
    started = Gateway(settings_for(data=SHORT_LIVED, executor={"cpus": 2, "memory_gb": 8}))
    await started.start()
    yield started
    await started.stop(grace=0)


async def test_finished_cancelled_and_expired_uploads_are_purged_after_their_retention(
    stub: Stub, client: ds.AsyncDeepSeekClient, purges: PurgeReports
) -> None:
    job = await client.create_job(spec("true"))
    finished = await upload(stub, job_input(job.id, "done.bin"), DATA)
    cancelled_start, _ = await exchange(
        stub, [start(job_input(job.id, "cancelled.bin"), DATA)], half_close=True
    )
    cancelled = cancelled_start[0].upload_id
    await stub.CancelUpload(data_pb2.CancelUploadRequest(upload_id=cancelled))
    abandoned_start, _ = await exchange(
        stub, [start(job_input(job.id, "abandoned.bin"), DATA)], half_close=True
    )
    abandoned = abandoned_start[0].upload_id  # expires after 1 s, then is purged 1 s later
    writing = OpenStream(stub)  # a stream stays attached: neither expired nor purged
    writing.send(start(job_input(job.id, "open.bin"), DATA))
    active = (await writing.answer()).upload_id

    async with asyncio.timeout(30):
        await purges.until(3)
    forgotten = [
        await failure(stub.GetUploadStatus(data_pb2.GetUploadStatusRequest(upload_id=upload_id)))
        for upload_id in (finished.upload_id, cancelled, abandoned)
    ]
    still_active = await status(stub, active)
    listed = await stub.ListFiles(data_pb2.ListFilesRequest(job_id=job.id))
    downloaded = await download(stub, finished.file.ref)
    writing.send(*chunks(DATA), finish())
    last = await writing.until_committed(len(DATA))
    while not last.finished:
        last = await writing.answer()

    assert all(isinstance(error, ds.NotFound) for error in forgotten), forgotten
    assert still_active.state == data_pb2.UPLOAD_STATE_ACTIVE
    assert [file.ref.path for file in listed.files] == ["done.bin"]
    assert b"".join(message.chunk.data for message in downloaded[1:]) == DATA
    assert last.file.size_bytes == len(DATA)
