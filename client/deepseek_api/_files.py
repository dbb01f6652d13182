"""Files, uploads and datasets as the SDK shows them, and the addresses of files."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from deepseek.hpc.v1 import data_pb2
from deepseek_api import _protos

FileArea = Literal["INPUT", "OUTPUT"]
"""The area of a job a file lives in: its uploaded ``"INPUT"`` or the ``"OUTPUT"`` it wrote."""

_JOB_ID_PREFIX = "job-"


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


Owner = str | _HasId
"""Whose files: a job id (``"job-..."``) or a dataset name, or a job object (``job.id``)."""


def owner_name(owner: Owner) -> str:
    """The job id or dataset name an owner stands for.

    Raises:
        TypeError: if ``owner`` is neither a string nor has an ``id``.
        ValueError: if it is empty.
    """
    name = owner if isinstance(owner, str) else getattr(owner, "id", None)
    if not isinstance(name, str):
        raise TypeError(f"a file owner is a job id or a dataset name, not {owner!r}")
    if not name:
        raise ValueError("a file owner (job id or dataset name) must not be empty")
    return name


def is_job_id(name: str) -> bool:
    """Whether ``name`` is a job id: dataset names may not start with ``"job-"``."""
    return name.startswith(_JOB_ID_PREFIX)


def file_ref(owner: Owner, path: str, area: FileArea | None) -> data_pb2.FileRef:
    """The address of a file of a job (in ``area``, INPUT if None) or of a dataset.

    Raises:
        ValueError: for an area given with a dataset, or an unknown area.
    """
    name = owner_name(owner)
    if is_job_id(name):
        return data_pb2.FileRef(job_id=name, area=area_number(area or "INPUT"), path=path)
    if area is not None:
        raise ValueError(f"{name!r} is a dataset: its files have no area (area={area!r})")
    return data_pb2.FileRef(dataset=name, path=path)


def area_number(area: str) -> data_pb2.FileArea.ValueType:
    """A :data:`FileArea` name as the proto enum.

    Raises:
        ValueError: if ``area`` is not ``"INPUT"`` or ``"OUTPUT"``.
    """
    return data_pb2.FileArea.ValueType(
        _protos.enum_number(data_pb2.FileArea.DESCRIPTOR, area, "FILE_AREA_", "area")
    )


@dataclass(frozen=True, slots=True)
class FileInfo:
    """A file stored on the platform, complete and visible.

    Attributes:
        path: Its path within its owner (and area), ``/``-separated.
        size: Size in bytes.
        sha256: SHA-256 of its content, 32 raw bytes (``.hex()`` to print).
        job_id: The job it belongs to; None for a dataset's file.
        dataset: The dataset it belongs to; None for a job's file.
        area: ``"INPUT"`` or ``"OUTPUT"`` for a job's file; None for a dataset's.
        create_time: When it became visible (UTC).
    """

    path: str
    size: int
    sha256: bytes = field(repr=False)
    job_id: str | None
    dataset: str | None
    area: str | None
    create_time: datetime | None

    @classmethod
    def from_proto(cls, info: data_pb2.FileInfo) -> FileInfo:
        """Read a ``deepseek.hpc.v1.FileInfo``."""
        ref = info.ref
        return cls(
            path=ref.path,
            size=info.size_bytes,
            sha256=info.sha256,
            job_id=ref.job_id or None,
            dataset=ref.dataset or None,
            area=_protos.enum_name_or_none(data_pb2.FileArea.DESCRIPTOR, ref.area, "FILE_AREA_"),
            create_time=_protos.datetime_field(info, "create_time"),
        )


@dataclass(frozen=True, slots=True)
class UploadStatus:
    """An upload in progress or done (see :meth:`DeepSeekClient.get_upload_status`).

    Attributes:
        id: The upload's id.
        path: Where the file goes, within its owner.
        job_id: The job it goes to; None for a dataset.
        dataset: The dataset it goes to; None for a job.
        total_size: Size of the whole file in bytes.
        committed_size: Bytes from offset 0 durably stored; an upload resumes here.
        state: ``"ACTIVE"``, ``"FINISHED"``, ``"EXPIRED"``, ``"CANCELLED"`` or ``"FAILED"``.
        create_time: When the upload started (UTC).
        expire_time: When an ACTIVE upload expires unless continued (UTC).
        request_id: The idempotency key it was started with; None if none.
    """

    id: str
    path: str
    job_id: str | None
    dataset: str | None
    total_size: int
    committed_size: int
    state: str
    create_time: datetime | None
    expire_time: datetime | None
    request_id: str | None

    @classmethod
    def from_proto(cls, upload: data_pb2.UploadSession) -> UploadStatus:
        """Read a ``deepseek.hpc.v1.UploadSession``."""
        return cls(
            id=upload.id,
            path=upload.target.path,
            job_id=upload.target.job_id or None,
            dataset=upload.target.dataset or None,
            total_size=upload.total_size,
            committed_size=upload.committed_size,
            state=_protos.enum_name(data_pb2.UploadState.DESCRIPTOR, upload.state, "UPLOAD_STATE_"),
            create_time=_protos.datetime_field(upload, "create_time"),
            expire_time=_protos.datetime_field(upload, "expire_time"),
            request_id=upload.request_id or None,
        )


@dataclass(frozen=True, slots=True)
class Dataset:
    """A named, reusable set of input files; jobs name it in their ``dependencies``.

    Attributes:
        name: Unique among its owner's datasets.
        description: Free text.
        labels: User labels.
        owner: User id of the owner.
        state: ``"OPEN"`` (accepting uploads) or ``"SEALED"`` (immutable; jobs that
            depend on it may run).
        file_count: Number of complete files.
        size_bytes: Their total size.
        create_time: When it was created (UTC).
        seal_time: When it was sealed; None while OPEN.
    """

    name: str
    description: str
    labels: dict[str, str] = field(hash=False)
    owner: str
    state: str
    file_count: int
    size_bytes: int
    create_time: datetime | None
    seal_time: datetime | None

    @property
    def id(self) -> str:
        """The dataset's name, so that a dataset can be passed wherever a file owner goes."""
        return self.name

    @classmethod
    def from_proto(cls, dataset: data_pb2.Dataset) -> Dataset:
        """Read a ``deepseek.hpc.v1.Dataset``."""
        return cls(
            name=dataset.name,
            description=dataset.description,
            labels=dict(dataset.labels),
            owner=dataset.owner,
            state=_protos.enum_name(
                data_pb2.DatasetState.DESCRIPTOR, dataset.state, "DATASET_STATE_"
            ),
            file_count=dataset.file_count,
            size_bytes=dataset.size_bytes,
            create_time=_protos.datetime_field(dataset, "create_time"),
            seal_time=_protos.datetime_field(dataset, "seal_time"),
        )


def list_files_request(
    owner: Owner, *, area: FileArea | None, path_prefix: str, page_size: int
) -> data_pb2.ListFilesRequest:
    """The first page's ``ListFilesRequest`` (both areas of a job when ``area`` is None)."""
    name = owner_name(owner)
    request = data_pb2.ListFilesRequest(path_prefix=path_prefix, page_size=page_size)
    if is_job_id(name):
        request.job_id = name
        if area is not None:
            request.area = area_number(area)
    elif area is not None:
        raise ValueError(f"{name!r} is a dataset: its files have no area (area={area!r})")
    else:
        request.dataset = name
    return request


def list_datasets_request(state: str | None, page_size: int) -> data_pb2.ListDatasetsRequest:
    """The first page's ``ListDatasetsRequest``.

    Raises:
        ValueError: for a state other than ``"OPEN"`` and ``"SEALED"``.
    """
    request = data_pb2.ListDatasetsRequest(page_size=page_size)
    if state is not None:
        request.state = data_pb2.DatasetState.ValueType(
            _protos.enum_number(data_pb2.DatasetState.DESCRIPTOR, state, "DATASET_STATE_", "state")
        )
    return request
