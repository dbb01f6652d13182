"""The file and dataset methods of :class:`DeepSeekClient`."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from deepseek.hpc.v1 import data_pb2, data_pb2_grpc, job_pb2, job_pb2_grpc
from deepseek_api import _calls, _download, _files, _jobs, _pages, _upload
from deepseek_api._chunks import ProgressCallback, UploadState, file_digest
from deepseek_api._client_base import SyncCalls
from deepseek_api._files import Dataset, FileArea, FileInfo, Owner, UploadStatus
from deepseek_api._trees import LocalPath, PlannedFile, UploadSources, check_remote_path
from deepseek_api._trees import local_path_for as _local_path_for
from deepseek_api._trees import plan_uploads as _plan_uploads

_T = TypeVar("_T")
_R = TypeVar("_R")

DEFAULT_CONCURRENCY = 4


class SyncDataMethods(SyncCalls):
    """Uploads, downloads, file listings and datasets (mixed into the sync client)."""

    __slots__ = ()

    def upload_file(
        self,
        target: Owner,
        local_path: LocalPath,
        remote_path: str | None = None,
        *,
        overwrite: bool = False,
        progress: ProgressCallback | None = None,
        request_id: str | None = None,
    ) -> FileInfo:
        """Upload one file to a job's inputs or to a dataset.

        The file is hashed (SHA-256) first, then streamed in chunks, each with its CRC32C,
        with at most 16 MiB sent ahead of the server's acknowledgements. If the connection
        breaks or the server restarts, the upload resumes where the server's disk stands,
        without resending what it holds. The server checks the SHA-256 before the file
        becomes visible, all at once.

        Args:
            target: A job id (``"job-..."``; the job must be CREATED, i.e. not yet
                submitted) or a job, for its INPUT area; or a dataset name (an OPEN
                dataset) or a :class:`Dataset`.
            local_path: The file to upload.
            remote_path: Its path on the platform, relative and ``/``-separated (a job
                sees it under this path in its working directory). Default: the local
                file's name.
            overwrite: Replace a file already at ``remote_path``; otherwise that is an
                ``AlreadyExists`` error.
            progress: Called with ``(local path, bytes acknowledged, total bytes)`` after
                each acknowledgement of the server.
            request_id: Idempotency key of the upload. An upload repeated with the key of
                one that is in progress or finished attaches to it. Default: a new UUID.

        Returns:
            The uploaded file.

        Raises:
            FileNotFoundError, OSError: if the local file cannot be read (or shrinks).
            ValueError: if ``remote_path`` is not acceptable.
            NotFound: no such job or dataset.
            FailedPrecondition: the job was already submitted, or the dataset is sealed.
            AlreadyExists: a file is at ``remote_path`` and ``overwrite`` is False.
            ResourceExhausted: the storage quota would be exceeded.
            DataLoss: the file changed while it was uploaded (SHA-256 mismatch).
            APIException: other failures, or resuming gave up (after the retry
                configuration's ``max_retries`` failures in a row without progress).
        """
        local = Path(local_path)
        remote = check_remote_path(local.name if remote_path is None else remote_path)
        size, sha256 = file_digest(local)
        state = UploadState(
            _files.file_ref(target, remote, None),
            size,
            sha256,
            request_id=request_id or _jobs.new_request_id(),
            overwrite=overwrite,
            retry=self._retry_config,
        )
        return _upload.upload_sync(self._open_upload, local, state, progress)

    def upload_input_files(
        self,
        job_id: Owner,
        paths: UploadSources,
        *,
        overwrite: bool = False,
        progress: ProgressCallback | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> list[FileInfo]:
        """Upload a job's input files, several at once; the job then finds them in its
        working directory.

        ::

            job = client.create_job(spec)
            client.upload_input_files(job.id, ["topol.tpr", "conf.gro", "params/"])
            job.submit()

        Args:
            job_id: The job (CREATED, not yet submitted), or its id.
            paths: Local files (each goes under its own name) and directories (each goes
                as a tree under its own name: ``params/a.mdp``); or a mapping of local
                paths to remote paths (``{"run/conf.gro": "conf.gro", "params": ""}``, a
                directory mapped to ``""`` puts its contents at the top).
            overwrite: Replace files already uploaded under the same paths.
            progress: As for :meth:`upload_file`, per file; with ``concurrency`` above 1
                it is called from several threads.
            concurrency: Files uploaded at the same time.

        Returns:
            The uploaded files, in the order of ``paths`` (a directory's in sorted order).

        Raises:
            ValueError: two files would get the same remote path, or a remote path is
                not acceptable (before anything is uploaded).
            FileNotFoundError: a local path does not exist (before anything is uploaded).
            APIException: as for :meth:`upload_file`: the first failure; the uploads
                not yet started are abandoned and those in progress finish first.
        """
        return self._upload_all(job_id, paths, overwrite, progress, concurrency)

    def upload_to_dataset(
        self,
        name: str,
        paths: UploadSources,
        *,
        overwrite: bool = False,
        progress: ProgressCallback | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        seal: bool = False,
    ) -> list[FileInfo]:
        """Upload files to an OPEN dataset, as :meth:`upload_input_files` does to a job.

        Args:
            name: The dataset (see :meth:`create_dataset`).
            paths: As for :meth:`upload_input_files`.
            overwrite: Replace files already in the dataset under the same paths.
            progress: As for :meth:`upload_input_files`.
            concurrency: Files uploaded at the same time.
            seal: Seal the dataset once every file is uploaded, so that jobs depending
                on it may run.

        Returns:
            The uploaded files, in order.

        Raises:
            NotFound: no such dataset.
            FailedPrecondition: the dataset is sealed.
            APIException, ValueError, FileNotFoundError: as for :meth:`upload_input_files`.
        """
        uploaded = self._upload_all(name, paths, overwrite, progress, concurrency)
        if seal:
            self.seal_dataset(name)
        return uploaded

    def get_upload_status(self, upload_id: str) -> UploadStatus:
        """Where an upload stands (its committed size, its state).

        Raises:
            NotFound: no such upload (or it expired long ago).
        """
        request = data_pb2.GetUploadStatusRequest(upload_id=upload_id)
        return UploadStatus.from_proto(self._unary(self._data().GetUploadStatus, request).upload)

    def cancel_upload(self, upload_id: str) -> UploadStatus:
        """Cancel an upload and discard its bytes; cancelling again changes nothing.

        Raises:
            NotFound: no such upload.
            FailedPrecondition: the upload finished (delete the file instead).
        """
        request = data_pb2.CancelUploadRequest(upload_id=upload_id)
        return UploadStatus.from_proto(self._unary(self._data().CancelUpload, request).upload)

    def download_file(
        self,
        source: Owner,
        remote_path: str,
        local_path: LocalPath,
        *,
        area: FileArea | None = None,
        progress: ProgressCallback | None = None,
    ) -> FileInfo:
        """Download one file of a job or a dataset.

        The bytes go to ``<local_path>.deepseek-part`` first; every chunk's CRC32C is
        checked as it arrives and the whole file's SHA-256 at the end, and only then is
        the part file renamed to ``local_path`` (replacing a file there). A download
        that breaks resumes from the part file's size, within this call or in a later
        one.

        Args:
            source: A job id or job, or a dataset name or :class:`Dataset`.
            remote_path: The file's path within ``source``.
            local_path: Where to put it; missing directories are created.
            area: For a job: ``"OUTPUT"`` (the default: files the job wrote; readable once
                the job is done) or ``"INPUT"``. None for a dataset.
            progress: Called with ``(local path, bytes written, total bytes)`` as chunks
                arrive.

        Returns:
            The downloaded file's metadata.

        Raises:
            NotFound: no such job, dataset or file.
            FailedPrecondition: the job's outputs are not readable before it is done.
            DataLoss: the bytes did not match their checksums, even after retrying.
            APIException: other failures, or resuming gave up.
            OSError: if the local file cannot be written.
        """
        if area is None and _files.is_job_id(_files.owner_name(source)):
            area = "OUTPUT"
        state = _download.DownloadState(
            _files.file_ref(source, check_remote_path(remote_path), area),
            Path(local_path),
            self._retry_config,
        )
        return _download.download_sync(self._open_download, state, progress)

    def download_results(
        self,
        job_id: Owner,
        local_dir: LocalPath,
        *,
        progress: ProgressCallback | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> list[Path]:
        """Download every file a job wrote (its OUTPUT area) into ``local_dir``, keeping
        their relative paths. The job must be done (COMPLETED, FAILED or CANCELLED).

        ::

            if job.status == "COMPLETED":
                client.download_results(job.id, "./output/")

        Each file is downloaded as :meth:`download_file` does (checked, resumable,
        renamed into place when whole).

        Args:
            job_id: The job, or its id.
            local_dir: Where to put the files; created if missing.
            progress: As for :meth:`download_file`, per file; with ``concurrency`` above
                1 it is called from several threads.
            concurrency: Files downloaded at the same time.

        Returns:
            The local paths of the files, in the order of their remote paths.

        Raises:
            FailedPrecondition: the job is not done yet.
            NotFound: no such job.
            APIException, OSError: as for :meth:`download_file`.
        """
        request = job_pb2.GetJobRequest(id=_files.owner_name(job_id))
        job = self._unary(self._stub(job_pb2_grpc.JobServiceStub).GetJob, request).job
        _download.check_outputs_final(job)
        directory = Path(local_dir)
        outputs = list(self.list_files(job_id, area="OUTPUT"))
        destinations = [_local_path_for(directory, info.path) for info in outputs]

        def fetch(pair: tuple[FileInfo, Path]) -> Path:
            info, destination = pair
            self.download_file(job_id, info.path, destination, area="OUTPUT", progress=progress)
            return destination

        return _run_all(fetch, list(zip(outputs, destinations, strict=True)), concurrency)

    def list_files(
        self,
        owner: Owner,
        *,
        area: FileArea | None = None,
        path_prefix: str = "",
        page_size: int = 100,
    ) -> Generator[FileInfo]:
        """The complete files of a job or a dataset, ordered by area then path; pages are
        fetched as the iteration reaches them.

        Args:
            owner: A job id or job, or a dataset name or :class:`Dataset`.
            area: For a job: ``"INPUT"``, ``"OUTPUT"``, or None for both. None for a
                dataset.
            path_prefix: Only paths starting with this string (``"results/"``).
            page_size: Files fetched per call (at most 1,000).

        Raises:
            ValueError: an area given for a dataset (at once).
            NotFound: no such job or dataset (while iterating).
        """
        request = _files.list_files_request(
            owner, area=area, path_prefix=path_prefix, page_size=page_size
        )
        return self._file_pages(request)

    def create_dataset(
        self,
        name: str,
        *,
        description: str = "",
        labels: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> Dataset:
        """Create an OPEN dataset: a named set of input files that jobs list in their
        ``dependencies``. Upload to it, then :meth:`seal_dataset` it.

        Args:
            name: 1 to 63 characters of ``[a-z0-9_.-]``, starting with a letter or
                digit, not with ``"job-"``; unique among your datasets.
            description: Free text, at most 1,024 characters.
            labels: User labels, as for jobs.
            request_id: Idempotency key; default: a new UUID (which makes the SDK's own
                retries safe).

        Raises:
            InvalidArgument: a bad name, description or labels.
            AlreadyExists: you have a dataset of this name.
        """
        request = data_pb2.CreateDatasetRequest(
            dataset=data_pb2.Dataset(name=name, description=description, labels=labels or {}),
            request_id=request_id or _jobs.new_request_id(),
        )
        return Dataset.from_proto(self._unary(self._data().CreateDataset, request).dataset)

    def get_dataset(self, name: str) -> Dataset:
        """Fetch a dataset.

        Raises:
            NotFound: no such dataset.
        """
        request = data_pb2.GetDatasetRequest(name=name)
        return Dataset.from_proto(self._unary(self._data().GetDataset, request).dataset)

    def list_datasets(
        self, *, state: str | None = None, page_size: int = 100
    ) -> Generator[Dataset]:
        """Your datasets by name, optionally only ``"OPEN"`` or ``"SEALED"`` ones; pages
        are fetched as the iteration reaches them.

        Raises:
            ValueError: an unknown state (at once).
        """
        return self._dataset_pages(_files.list_datasets_request(state, page_size))

    def seal_dataset(self, name: str) -> Dataset:
        """Seal a dataset: it becomes immutable and jobs that depend on it may run.
        Uploads to it still in progress are cancelled. Sealing again changes nothing.

        Raises:
            NotFound: no such dataset.
        """
        request = data_pb2.SealDatasetRequest(name=name)
        return Dataset.from_proto(self._unary(self._data().SealDataset, request).dataset)

    def delete_dataset(self, name: str) -> None:
        """Delete a dataset and its files. Not idempotent: deleting again is NotFound.

        Raises:
            NotFound: no such dataset.
            FailedPrecondition: a job that is not done depends on it.
        """
        self._unary(self._data().DeleteDataset, data_pb2.DeleteDatasetRequest(name=name))

    def _data(self) -> data_pb2_grpc.DataChunkServiceStub:
        return self._stub(data_pb2_grpc.DataChunkServiceStub)

    def _open_upload(
        self, requests: Iterator[data_pb2.UploadRequest]
    ) -> Generator[data_pb2.UploadResponse]:
        # No deadline: a large file takes as long as it takes; the server closes idle streams.
        return _calls.bidi_stream(self._data().Upload, requests, None)

    def _open_download(
        self, request: data_pb2.DownloadRequest
    ) -> Generator[data_pb2.DownloadResponse]:
        return self._server_stream(self._data().Download, request, timeout=None)

    def _upload_all(
        self,
        target: Owner,
        paths: UploadSources,
        overwrite: bool,
        progress: ProgressCallback | None,
        concurrency: int,
    ) -> list[FileInfo]:
        planned = _plan_uploads(paths)

        def send(item: PlannedFile) -> FileInfo:
            return self.upload_file(
                target, item.local, item.remote, overwrite=overwrite, progress=progress
            )

        return _run_all(send, planned, concurrency)

    def _file_pages(self, request: data_pb2.ListFilesRequest | None) -> Generator[FileInfo]:
        while request is not None:
            response = self._unary(self._data().ListFiles, request)
            yield from map(FileInfo.from_proto, response.files)
            request = _pages.next_page(request, response)

    def _dataset_pages(self, request: data_pb2.ListDatasetsRequest | None) -> Generator[Dataset]:
        while request is not None:
            response = self._unary(self._data().ListDatasets, request)
            yield from map(Dataset.from_proto, response.datasets)
            request = _pages.next_page(request, response)


def _run_all(work: Callable[[_T], _R], items: Sequence[_T], concurrency: int) -> list[_R]:
    """``work`` on every item, ``concurrency`` at a time; results in order. The first
    failure is raised once the items in progress end; items not started are dropped."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency}")
    if concurrency == 1 or len(items) <= 1:
        return [work(item) for item in items]
    with concurrent.futures.ThreadPoolExecutor(min(concurrency, len(items))) as pool:
        futures = [pool.submit(work, item) for item in items]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise
