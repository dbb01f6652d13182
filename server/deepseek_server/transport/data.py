"""DataChunkService over gRPC: each method converts, calls the data domain once, converts back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc.aio

from deepseek.hpc.v1 import data_pb2, data_pb2_grpc
from deepseek_server.context import caller
from deepseek_server.data import DataService, FileInfo
from deepseek_server.errors import FieldViolation, InvalidArgument
from deepseek_server.transport import data_messages as messages

Context = grpc.aio.ServicerContext[Any, Any]


class DataChunkServicer(data_pb2_grpc.DataChunkServiceServicer):
    """The DataChunkService RPCs for the caller's files, uploads and datasets."""

    def __init__(self, data: DataService) -> None:
        self._data = data

    async def Upload(
        self, request_iterator: AsyncIterator[data_pb2.UploadRequest], context: Context
    ) -> AsyncIterator[data_pb2.UploadResponse]:
        acks = self._data.upload(caller().user_id, messages.upload_messages(request_iterator))
        async for ack in acks:
            yield messages.ack_to_proto(ack)

    async def GetUploadStatus(
        self, request: data_pb2.GetUploadStatusRequest, context: Context
    ) -> data_pb2.GetUploadStatusResponse:
        upload = await self._data.get_upload(caller().user_id, request.upload_id)
        return data_pb2.GetUploadStatusResponse(upload=messages.upload_to_proto(upload))

    async def CancelUpload(
        self, request: data_pb2.CancelUploadRequest, context: Context
    ) -> data_pb2.CancelUploadResponse:
        upload = await self._data.cancel_upload(caller().user_id, request.upload_id)
        return data_pb2.CancelUploadResponse(upload=messages.upload_to_proto(upload))

    async def Download(
        self, request: data_pb2.DownloadRequest, context: Context
    ) -> AsyncIterator[data_pb2.DownloadResponse]:
        items = self._data.download(
            caller().user_id,
            messages.ref_from_proto(request.file),
            request.offset,
            request.length,
        )
        async for item in items:
            if isinstance(item, FileInfo):
                yield data_pb2.DownloadResponse(header=messages.file_to_proto(item))
            else:
                yield messages.download_chunk(*item)

    async def ListFiles(
        self, request: data_pb2.ListFilesRequest, context: Context
    ) -> data_pb2.ListFilesResponse:
        area = messages.area_from_proto(request.area)
        if area is None:
            raise InvalidArgument([FieldViolation("area", f"unknown file area {request.area}")])
        page = await self._data.list_files(
            caller().user_id,
            request.job_id,
            request.dataset,
            area,
            request.path_prefix,
            request.page_size,
            request.page_token,
        )
        return data_pb2.ListFilesResponse(
            files=[messages.file_to_proto(info) for info in page.items],
            next_page_token=page.next_page_token,
        )

    async def CreateDataset(
        self, request: data_pb2.CreateDatasetRequest, context: Context
    ) -> data_pb2.CreateDatasetResponse:
        wanted = request.dataset
        dataset = await self._data.create_dataset(
            caller().user_id,
            wanted.name,
            wanted.description,
            dict(wanted.labels),
            request.request_id,
        )
        return data_pb2.CreateDatasetResponse(dataset=messages.dataset_to_proto(dataset))

    async def GetDataset(
        self, request: data_pb2.GetDatasetRequest, context: Context
    ) -> data_pb2.GetDatasetResponse:
        dataset = await self._data.get_dataset(caller().user_id, request.name)
        return data_pb2.GetDatasetResponse(dataset=messages.dataset_to_proto(dataset))

    async def ListDatasets(
        self, request: data_pb2.ListDatasetsRequest, context: Context
    ) -> data_pb2.ListDatasetsResponse:
        state = messages.dataset_state_from_proto(request.state)
        if state is None and request.state != data_pb2.DATASET_STATE_UNSPECIFIED:
            raise InvalidArgument([FieldViolation("state", f"unknown state {request.state}")])
        page = await self._data.list_datasets(
            caller().user_id, state, request.page_size, request.page_token
        )
        return data_pb2.ListDatasetsResponse(
            datasets=[messages.dataset_to_proto(d) for d in page.items],
            next_page_token=page.next_page_token,
        )

    async def SealDataset(
        self, request: data_pb2.SealDatasetRequest, context: Context
    ) -> data_pb2.SealDatasetResponse:
        dataset = await self._data.seal_dataset(caller().user_id, request.name)
        return data_pb2.SealDatasetResponse(dataset=messages.dataset_to_proto(dataset))

    async def DeleteDataset(
        self, request: data_pb2.DeleteDatasetRequest, context: Context
    ) -> data_pb2.DeleteDatasetResponse:
        await self._data.delete_dataset(caller().user_id, request.name)
        return data_pb2.DeleteDatasetResponse()


__all__ = ["DataChunkServicer"]
