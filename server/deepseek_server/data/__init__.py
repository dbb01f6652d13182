"""The data domain: resumable uploads, streamed downloads, file listings and datasets.

Plain async Python over the :class:`~deepseek_server.storage.Store` and the filesystem; it
imports neither gRPC nor generated messages. The transport converts DataChunkService messages
to the values of :mod:`deepseek_server.data.model` and calls one :class:`DataService` method.
"""

from deepseek_server.data.model import (
    Ack,
    Area,
    Chunk,
    Dataset,
    DatasetState,
    FileInfo,
    FileRef,
    Finish,
    Page,
    Resume,
    Start,
    Unknown,
    Upload,
    UploadMessage,
    UploadState,
)
from deepseek_server.data.ports import JobGate, JobView
from deepseek_server.data.service import DataService, DownloadItem

__all__ = [
    "Ack",
    "Area",
    "Chunk",
    "DataService",
    "Dataset",
    "DatasetState",
    "DownloadItem",
    "FileInfo",
    "FileRef",
    "Finish",
    "JobGate",
    "JobView",
    "Page",
    "Resume",
    "Start",
    "Unknown",
    "Upload",
    "UploadMessage",
    "UploadState",
]
