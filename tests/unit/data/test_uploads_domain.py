"""The data domain without sockets: quota arithmetic, expiry, and the part file's hash state."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from deepseek_server.config import DataSettings
from deepseek_server.data import Area, DataService, FileRef, JobView, Start, UploadState
from deepseek_server.data.blobs import ChecksumMismatch, PartFile, crc32c
from deepseek_server.errors import NotFound, ResourceExhausted
from deepseek_server.storage import Store, open_store

QUOTA = 1000


class Jobs:
    """A job gate with one CREATED job, ``job-1``, owned by ``alice``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def job_view(self, owner: str, job_id: str) -> JobView:
        if (owner, job_id) != ("alice", "job-1"):
            raise NotFound("job", job_id)
        return JobView(job_id, terminal=False)

    @asynccontextmanager
    async def accepting_inputs(self, owner: str, job_id: str) -> AsyncIterator[None]:
        await self.job_view(owner, job_id)
        yield

    async def dataset_sealed(self, owner: str, name: str) -> None:
        return None

    async def jobs_needing_dataset(self, owner: str, name: str) -> list[str]:
        return []

    def input_dir(self, job_id: str) -> Path:
        return self.root / job_id / "inputs"

    def output_dir(self, job_id: str) -> Path:
        return self.root / job_id / "work"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(tmp_path / "db.sqlite")
    yield opened
    await opened.close()


@pytest.fixture
def service(store: Store, tmp_path: Path) -> DataService:
    settings = DataSettings(
        storage_quota_bytes=QUOTA, upload_expiry_seconds=60, upload_retention_seconds=120
    )
    return DataService(store, settings, Jobs(tmp_path / "jobs"), tmp_path / "up", tmp_path / "ds")


def job_input(path: str) -> FileRef:
    return FileRef(path=path, job_id="job-1", area=Area.INPUT)


async def test_the_quota_counts_active_uploads_by_their_declared_size(
    service: DataService,
) -> None:
    await service.start_upload("alice", Start(job_input("a"), 600))
    await service.start_upload("alice", Start(job_input("b"), 400))

    with pytest.raises(ResourceExhausted) as refused:
        await service.start_upload("alice", Start(job_input("c"), 1))

    assert [v.subject for v in refused.value.violations] == ["user:alice/storage_bytes"]
    assert refused.value.violations[0].description == "limit 1000, used 1000, requested 1"


async def test_cancelled_uploads_give_their_reservation_back(service: DataService) -> None:
    first = await service.start_upload("alice", Start(job_input("a"), 1000))

    await service.cancel_upload("alice", first.id)
    second = await service.start_upload("alice", Start(job_input("b"), 1000))

    assert second.state is UploadState.ACTIVE


async def test_uploads_expire_once_past_their_expiry_and_lose_their_part_files(
    service: DataService, tmp_path: Path
) -> None:
    upload = await service.start_upload("alice", Start(job_input("a"), 10))
    part = tmp_path / "up" / f"{upload.id}.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"12345")
    now = datetime.now(UTC)

    early = await service.expire_uploads(now + timedelta(seconds=59))
    late = await service.expire_uploads(now + timedelta(seconds=61))

    assert early == []
    assert late == [upload.id]
    assert (await service.get_upload("alice", upload.id)).state is UploadState.EXPIRED
    assert not part.exists()


async def test_ended_uploads_are_forgotten_once_past_their_retention_and_active_ones_stay(
    service: DataService,
) -> None:
    ended = await service.start_upload("alice", Start(job_input("a"), 10))
    active = await service.start_upload("alice", Start(job_input("b"), 10))
    await service.cancel_upload("alice", ended.id)
    end_time = (await service.get_upload("alice", ended.id)).update_time

    early = await service.purge_ended_uploads(end_time + timedelta(seconds=119))
    late = await service.purge_ended_uploads(end_time + timedelta(seconds=121))

    assert (early, late) == (0, 1)
    with pytest.raises(NotFound):
        await service.get_upload("alice", ended.id)
    assert (await service.get_upload("alice", active.id)).state is UploadState.ACTIVE


async def test_a_committed_chunk_pushes_the_expiry_later(service: DataService) -> None:
    upload = await service.start_upload("alice", Start(job_input("a"), 10))

    await service.record_commit(upload.id, 5)
    later = await service.get_upload("alice", upload.id)

    assert later.committed_size == 5
    assert later.expire_time > upload.expire_time


def test_a_part_file_reopened_at_its_committed_size_hashes_like_the_whole_file(
    tmp_path: Path,
) -> None:
    data = os.urandom(3000)
    path = tmp_path / "p.part"
    part = PartFile.open(path, 0, None, drop_behind=True)
    part.write_at(data[:2000], 0)
    part.check_and_hash(data[:2000], crc32c(data[:2000]))
    part.write_at(b"unacknowledged", 2000)
    part.sync(2000)
    part.close()

    again = PartFile.open(path, 2000, None)  # after a restart: hash state from the file
    with pytest.raises(ChecksumMismatch):
        again.check_and_hash(data[2000:], crc32c(data[2000:]) ^ 1)
    with pytest.raises(ChecksumMismatch):  # and nothing after a mismatch is hashed either
        again.check_and_hash(data[2000:], crc32c(data[2000:]))
    again.close()
    resumed = PartFile.open(path, 2000, None)
    resumed.write_at(data[2000:], 2000)
    resumed.check_and_hash(data[2000:], crc32c(data[2000:]))
    resumed.close()

    assert resumed.sha256() == hashlib.sha256(data).digest()
    assert path.read_bytes() == data
