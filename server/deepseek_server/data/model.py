"""Files, uploads and datasets as the data domain sees them: plain values, no gRPC, no SQL."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from deepseek_server.randomness import random_hex

T = TypeVar("T")


class Area(enum.Enum):
    """Where a file of a job lives; datasets have no area (``NONE``)."""

    NONE = "NONE"
    INPUT = "INPUT"
    OUTPUT = "OUTPUT"


class UploadState(enum.Enum):
    """ACTIVE until it ends FINISHED, EXPIRED, CANCELLED or FAILED."""

    ACTIVE = "ACTIVE"
    FINISHED = "FINISHED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


class DatasetState(enum.Enum):
    """OPEN for uploads, then SEALED for good."""

    OPEN = "OPEN"
    SEALED = "SEALED"


@dataclass(frozen=True, slots=True)
class FileRef:
    """The address of a file: a job's area or a dataset, and a checked relative path."""

    path: str
    job_id: str = ""
    dataset: str = ""
    area: Area = Area.NONE

    @property
    def scope(self) -> str:
        """The owner-relative key files and uploads are stored under: ``job/<id>`` or
        ``dataset/<name>`` (only INPUT files of jobs are stored; outputs live on disk)."""
        return f"job/{self.job_id}" if self.job_id else f"dataset/{self.dataset}"


@dataclass(frozen=True, slots=True)
class FileInfo:
    """A finished, visible file."""

    ref: FileRef
    size: int
    sha256: bytes
    create_time: datetime


@dataclass(frozen=True, slots=True)
class Upload:
    """An upload and how far it has come."""

    id: str
    owner: str
    target: FileRef
    total_size: int
    sha256: bytes
    state: UploadState
    committed_size: int
    create_time: datetime
    update_time: datetime
    expire_time: datetime
    request_id: str = ""
    overwrite: bool = False


@dataclass(frozen=True, slots=True)
class Dataset:
    """A named set of files owned by one user."""

    owner: str
    name: str
    state: DatasetState
    create_time: datetime
    description: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    seal_time: datetime | None = None
    file_count: int = 0
    size_bytes: int = 0
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class Start:
    """First message of a new upload."""

    target: FileRef
    total_size: int
    sha256: bytes = b""
    request_id: str = ""
    overwrite: bool = False


@dataclass(frozen=True, slots=True)
class Resume:
    """First message of a stream continuing an upload."""

    upload_id: str


@dataclass(frozen=True, slots=True)
class Chunk:
    """Data at an offset, with the CRC32C the client computed."""

    offset: int
    data: bytes
    crc32c: int


@dataclass(frozen=True, slots=True)
class Finish:
    """Every byte has been sent; ``sha256`` is required if the start had none."""

    sha256: bytes = b""


@dataclass(frozen=True, slots=True)
class Unknown:
    """A message of a kind the stream does not know (an empty oneof)."""


UploadMessage = Start | Resume | Chunk | Finish | Unknown


@dataclass(frozen=True, slots=True)
class Ack:
    """What the server tells the uploading client."""

    upload_id: str
    committed_size: int
    max_chunk_size: int = 0
    file: FileInfo | None = None
    window_size: int = 0

    @property
    def finished(self) -> bool:
        """True once the file is visible."""
        return self.file is not None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing and the token of the next one ("" on the last)."""

    items: list[T]
    next_page_token: str


def new_upload_id() -> str:
    """A random, unguessable upload id."""
    return "upload-" + random_hex(16)
