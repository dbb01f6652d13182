"""The file and dataset methods of :class:`AsyncDeepSeekClient`. File I/O and hashing go
through threads, so the event loop never waits on the disk."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from deepseek.hpc.v1 import data_pb2, data_pb2_grpc, job_pb2, job_pb2_grpc
from deepseek_api import _calls, _download, _files, _jobs, _pages, _upload
from deepseek_api._chunks import ProgressCallback, UploadState, file_digest
from deepseek_api._client_base import AsyncCalls
from deepseek_api._files import Dataset, FileArea, FileInfo, Owner, UploadStatus
from deepseek_api._sync_data import DEFAULT_CONCURRENCY
from deepseek_api._trees import LocalPath, PlannedFile, UploadSources, check_remote_path
from deepseek_api._trees import local_path_for as _local_path_for
from deepseek_api._trees import plan_uploads as _plan_uploads

_T = TypeVar("_T")
_R = TypeVar("_R")


class AsyncDataMethods(AsyncCalls):
    """Uploads, downloads, file listings and datasets (mixed into the async client)."""

    __slots__ = ()

    async def upload_file(
        self,
        target: Owner,
        local_path: LocalPath,
        remote_path: str | None = None,
        *,
        overwrite: bool = False,
        progress: ProgressCallback | None = None,
        request_id: str | None = None,
    ) -> FileInfo:
        """Upload one file to a job's inputs or to a dataset, resuming across broken
        connections. See :meth:`DeepSeekClient.upload_file`."""
        local = Path(local_path)
        remote = check_remote_path(local.name if remote_path is None else remote_path)
        size, sha256 = await asyncio.to_thread(file_digest, local)
        state = UploadState(
            _files.file_ref(target, remote, None),
            size,
            sha256,
            request_id=request_id or _jobs.new_request_id(),
            overwrite=overwrite,
            retry=self._retry_config,
        )
        return await _upload.upload_async(self._open_upload, local, state, progress)

    async def upload_input_files(
        self,
        job_id: Owner,
        paths: UploadSources,
        *,
        overwrite: bool = False,
        progress: ProgressCallback | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> list[FileInfo]:
        """Upload a job's input files, ``concurrency`` at a time.
        See :meth:`DeepSeekClient.upload_input_files`."""
        return await self._upload_all(job_id, paths, overwrite, progress, concurrency)

    async def upload_to_dataset(
        self,
        name: str,
        paths: UploadSources,
        *,
        overwrite: bool = False,
        progress: ProgressCallback | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        seal: bool = False,
    ) -> list[FileInfo]:
        """Upload files to an OPEN dataset, optionally sealing it after.
        See :meth:`DeepSeekClient.upload_to_dataset`."""
        uploaded = await self._upload_all(name, paths, overwrite, progress, concurrency)
        if seal:
            await self.seal_dataset(name)
        return uploaded

    async def get_upload_status(self, upload_id: str) -> UploadStatus:
        """Where an upload stands. See :meth:`DeepSeekClient.get_upload_status`."""
        request = data_pb2.GetUploadStatusRequest(upload_id=upload_id)
        response = await self._unary(self._data().GetUploadStatus, request)
        return UploadStatus.from_proto(response.upload)

    async def cancel_upload(self, upload_id: str) -> UploadStatus:
        """Cancel an upload. See :meth:`DeepSeekClient.cancel_upload`."""
        request = data_pb2.CancelUploadRequest(upload_id=upload_id)
        response = await self._unary(self._data().CancelUpload, request)
        return UploadStatus.from_proto(response.upload)

    async def download_file(
        self,
        source: Owner,
        remote_path: str,
        local_path: LocalPath,
        *,
        area: FileArea | None = None,
        progress: ProgressCallback | None = None,
    ) -> FileInfo:
        """Download one file, checked and resumable. See :meth:`DeepSeekClient.download_file`."""
        if area is None and _files.is_job_id(_files.owner_name(source)):
            area = "OUTPUT"
        state = _download.DownloadState(
            _files.file_ref(source, check_remote_path(remote_path), area),
            Path(local_path),
            self._retry_config,
        )
        return await _download.download_async(self._open_download, state, progress)

    async def download_results(
        self,
        job_id: Owner,
        local_dir: LocalPath,
        *,
        progress: ProgressCallback | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> list[Path]:
        """Download every file a job wrote into ``local_dir``.
        See :meth:`DeepSeekClient.download_results`."""
        request = job_pb2.GetJobRequest(id=_files.owner_name(job_id))
        job = (await self._unary(self._stub(job_pb2_grpc.JobServiceStub).GetJob, request)).job
        _download.check_outputs_final(job)
        directory = Path(local_dir)
        outputs = [info async for info in self.list_files(job_id, area="OUTPUT")]
        destinations = [_local_path_for(directory, info.path) for info in outputs]

        async def fetch(pair: tuple[FileInfo, Path]) -> Path:
            info, destination = pair
            await self.download_file(
                job_id, info.path, destination, area="OUTPUT", progress=progress
            )
            return destination

        return await _run_all(fetch, list(zip(outputs, destinations, strict=True)), concurrency)

    def list_files(
        self,
        owner: Owner,
        *,
        area: FileArea | None = None,
        path_prefix: str = "",
        page_size: int = 100,
    ) -> AsyncGenerator[FileInfo]:
        """The files of a job or a dataset, as an async iterator fetching pages lazily.
        See :meth:`DeepSeekClient.list_files`."""
        request = _files.list_files_request(
            owner, area=area, path_prefix=path_prefix, page_size=page_size
        )
        return self._file_pages(request)

    async def create_dataset(
        self,
        name: str,
        *,
        description: str = "",
        labels: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> Dataset:
        """Create an OPEN dataset. See :meth:`DeepSeekClient.create_dataset`."""
        request = data_pb2.CreateDatasetRequest(
            dataset=data_pb2.Dataset(name=name, description=description, labels=labels or {}),
            request_id=request_id or _jobs.new_request_id(),
        )
        return Dataset.from_proto((await self._unary(self._data().CreateDataset, request)).dataset)

    async def get_dataset(self, name: str) -> Dataset:
        """Fetch a dataset. See :meth:`DeepSeekClient.get_dataset`."""
        request = data_pb2.GetDatasetRequest(name=name)
        return Dataset.from_proto((await self._unary(self._data().GetDataset, request)).dataset)

    def list_datasets(
        self, *, state: str | None = None, page_size: int = 100
    ) -> AsyncGenerator[Dataset]:
        """Your datasets, as an async iterator. See :meth:`DeepSeekClient.list_datasets`."""
        return self._dataset_pages(_files.list_datasets_request(state, page_size))

    async def seal_dataset(self, name: str) -> Dataset:
        """Seal a dataset. See :meth:`DeepSeekClient.seal_dataset`."""
        request = data_pb2.SealDatasetRequest(name=name)
        return Dataset.from_proto((await self._unary(self._data().SealDataset, request)).dataset)

    async def delete_dataset(self, name: str) -> None:
        """Delete a dataset and its files. See :meth:`DeepSeekClient.delete_dataset`."""
        await self._unary(self._data().DeleteDataset, data_pb2.DeleteDatasetRequest(name=name))

    def _data(self) -> data_pb2_grpc.DataChunkServiceAsyncStub:
        return self._stub(data_pb2_grpc.DataChunkServiceStub)

    def _open_upload(
        self, requests: AsyncIterator[data_pb2.UploadRequest]
    ) -> AsyncGenerator[data_pb2.UploadResponse]:
        return _calls.bidi_stream_async(self._data().Upload, requests, None)

    def _open_download(
        self, request: data_pb2.DownloadRequest
    ) -> AsyncGenerator[data_pb2.DownloadResponse]:
        return self._server_stream(self._data().Download, request, timeout=None)

    async def _upload_all(
        self,
        target: Owner,
        paths: UploadSources,
        overwrite: bool,
        progress: ProgressCallback | None,
        concurrency: int,
    ) -> list[FileInfo]:
        planned = await asyncio.to_thread(_plan_uploads, paths)

        async def send(item: PlannedFile) -> FileInfo:
            return await self.upload_file(
                target, item.local, item.remote, overwrite=overwrite, progress=progress
            )

        return await _run_all(send, planned, concurrency)

    async def _file_pages(
        self, request: data_pb2.ListFilesRequest | None
    ) -> AsyncGenerator[FileInfo]:
        while request is not None:
            response = await self._unary(self._data().ListFiles, request)
            for info in response.files:
                yield FileInfo.from_proto(info)
            request = _pages.next_page(request, response)

    async def _dataset_pages(
        self, request: data_pb2.ListDatasetsRequest | None
    ) -> AsyncGenerator[Dataset]:
        while request is not None:
            response = await self._unary(self._data().ListDatasets, request)
            for dataset in response.datasets:
                yield Dataset.from_proto(dataset)
            request = _pages.next_page(request, response)


async def _run_all(
    work: Callable[[_T], Awaitable[_R]], items: Sequence[_T], concurrency: int
) -> list[_R]:
    """``work`` on every item, ``concurrency`` at a time; results in order. The first
    failure cancels the rest and is raised."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency}")
    slots = asyncio.Semaphore(concurrency)

    async def limited(item: _T) -> _R:
        async with slots:
            return await work(item)

    tasks = [asyncio.ensure_future(limited(item)) for item in items]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
