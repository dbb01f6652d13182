"""The data domain's operations: what DataChunkService's RPCs do, without gRPC."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import os
import shutil
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from deepseek_server.config import DataSettings
from deepseek_server.data import blobs
from deepseek_server.data.blobs import PartFile
from deepseek_server.data.downloads import read_pieces
from deepseek_server.data.model import (
    Ack,
    Area,
    Dataset,
    DatasetState,
    FileInfo,
    FileRef,
    Page,
    Start,
    Upload,
    UploadMessage,
    UploadState,
    new_upload_id,
)
from deepseek_server.data.outputs import HashCache, OutputFile, scan_outputs
from deepseek_server.data.paths import UnsafePath, open_regular, unsafe_component
from deepseek_server.data.ports import JobGate
from deepseek_server.data.repository import DataRepository
from deepseek_server.data.uploads import Live, UploadStream
from deepseek_server.data.validation import (
    bad,
    check_dataset_fields,
    check_dataset_name,
    check_ref,
    check_request_id,
    check_sha256,
    dataset_fingerprint,
    page_size,
)
from deepseek_server.errors import (
    Aborted,
    AlreadyExists,
    DataLoss,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    OutOfRange,
    QuotaViolation,
    ResourceExhausted,
)
from deepseek_server.periodic import Periodic
from deepseek_server.storage import ConstraintError, Store

_log = logging.getLogger(__name__)

# How often uploads are looked at to expire them and to purge ended ones, at most; shorter
# when uploads expire, or ended ones are purged, sooner.
EXPIRY_CHECK_SECONDS = 60.0

# Largest piece a download sends (and reads at once), below max_chunk_bytes.
DOWNLOAD_PIECE_BYTES = 4 * 1024 * 1024

DownloadItem = FileInfo | tuple[int, bytes, int]
"""What a download yields: the header first, then (offset, data, crc32c) chunks."""


class DataService:
    """Uploads, downloads, file listings and datasets for their owners; one per gateway."""

    def __init__(
        self,
        store: Store,
        settings: DataSettings,
        jobs: JobGate,
        uploads_dir: Path,
        datasets_dir: Path,
        storage_limit: Callable[[str], int] | None = None,
    ) -> None:
        self.settings = settings
        # The per-user limit (an administrator may override it; -1 is unlimited).
        self._storage_limit = storage_limit or (lambda owner: settings.storage_quota_bytes)
        self._store = store
        self._repository = DataRepository(store)
        self._jobs = jobs
        self._uploads_dir = uploads_dir
        self._datasets_dir = datasets_dir
        self._live: dict[str, Live] = {}
        self._dataset_locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._hashes = HashCache()
        self._expiry = Periodic(
            "expiring and purging uploads",
            min(
                EXPIRY_CHECK_SECONDS,
                settings.upload_expiry_seconds / 4,
                settings.upload_retention_seconds / 4,
            ),
            self._expire_round,
        )

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Remove part files no active upload owns, then expire abandoned uploads as they age
        and purge the records of ended ones once they are past their retention."""
        await asyncio.to_thread(self._uploads_dir.mkdir, parents=True, exist_ok=True)
        await self._remove_orphans()
        self._expiry.start()

    async def close(self) -> None:
        """Stop expiring uploads. Idempotent."""
        await self._expiry.stop()

    # ------------------------------------------------------------------ uploads

    def upload(self, owner: str, requests: AsyncIterator[UploadMessage]) -> AsyncIterator[Ack]:
        """Serve one Upload stream for ``owner``."""
        return UploadStream(self, owner).run(requests)

    async def start_upload(self, owner: str, start: Start) -> Upload:
        """Begin an upload (or attach to the one its request_id started); nothing is written
        unless the target, limits and quota allow it."""
        components = check_ref(start.target, "start.target", for_upload=True)
        check_request_id(start.request_id, "start.request_id")
        check_sha256(start.sha256, "start.sha256")
        if start.total_size < 0:
            raise bad("start.total_size", "must not be negative")
        if start.total_size > self.settings.max_file_bytes:
            raise bad(
                "start.total_size",
                f"must be at most {self.settings.max_file_bytes} bytes (the largest file "
                f"allowed), got {start.total_size}",
            )
        if start.request_id:
            earlier = await self._repository.upload_by_request(self._store, owner, start.request_id)
            if earlier is not None:
                return earlier
        await self._check_target(owner, start.target, components, start.overwrite)
        now = _now()
        upload = Upload(
            id=new_upload_id(),
            owner=owner,
            target=start.target,
            total_size=start.total_size,
            sha256=start.sha256,
            state=UploadState.ACTIVE,
            committed_size=0,
            create_time=now,
            update_time=now,
            expire_time=now + self._expiry_delay,
            request_id=start.request_id,
            overwrite=start.overwrite,
        )
        async with self._store.transaction() as tx:
            if start.request_id:
                earlier = await self._repository.upload_by_request(tx, owner, start.request_id)
                if earlier is not None:
                    return earlier
            used = await self._repository.storage_used(tx, owner)
            quota = self._storage_limit(owner)
            if quota != -1 and used + start.total_size > quota:
                raise ResourceExhausted(
                    f"storage quota exceeded: {used} of {quota} bytes in use, "
                    f"{start.total_size} more requested",
                    reason="STORAGE_QUOTA_EXCEEDED",
                    violations=[
                        QuotaViolation(
                            f"user:{owner}/storage_bytes",
                            f"limit {quota}, used {used}, requested {start.total_size}",
                        )
                    ],
                )
            await self._repository.insert_upload(tx, upload)
        return upload

    async def storage_used(self, owner: str) -> int:
        """Bytes the owner stores: finished files plus the declared size of active uploads."""
        return await self._repository.storage_used(self._store, owner)

    async def get_upload(self, owner: str, upload_id: str) -> Upload:
        """The owner's upload; NOT_FOUND for a missing one and for someone else's."""
        upload = await self._repository.get_upload(upload_id)
        if upload is None or upload.owner != owner:
            raise NotFound("upload", upload_id)
        return upload

    async def cancel_upload(self, owner: str, upload_id: str) -> Upload:
        """Cancel an upload and discard its bytes; idempotent for ended uploads."""
        upload = await self.get_upload(owner, upload_id)
        if upload.state is UploadState.FINISHED:
            raise FailedPrecondition(
                f"upload {upload_id} is finished; delete the file instead",
                reason="UPLOAD_FINISHED",
            )
        if upload.state is UploadState.ACTIVE:
            await self._end_upload(upload_id, UploadState.CANCELLED)
        return await self.get_upload(owner, upload_id)

    async def attach(self, upload_id: str, stream: UploadStream) -> Live:
        """Make ``stream`` the upload's only writer; the previous one ends with ABORTED."""
        live = self._live.setdefault(upload_id, Live())
        previous, live.stream = live.stream, stream
        if previous is not None:
            previous.interrupt(
                Aborted(f"another stream took over upload {upload_id}", reason="UPLOAD_TAKEN_OVER")
            )
        await live.lock.acquire()
        return live

    async def open_part(self, upload: Upload, live: Live | None) -> PartFile:
        """The upload's part file at its committed size; if committed bytes were lost, the
        upload starts again from 0."""
        path = self._part_path(upload.id)
        saved = live.saved if live is not None else None
        drop_behind = self.settings.drop_cache_behind
        try:
            return await asyncio.to_thread(
                PartFile.open, path, upload.committed_size, saved, drop_behind=drop_behind
            )
        except FileNotFoundError:
            _log.warning("upload %s lost its part file; it restarts from 0", upload.id)
            await self.record_commit(upload.id, 0)
            return await asyncio.to_thread(PartFile.open, path, 0, None, drop_behind=drop_behind)

    async def record_commit(self, upload_id: str, committed: int) -> None:
        """Record that the part file durably holds ``committed`` bytes."""
        now = _now()
        await self._repository.set_committed(upload_id, committed, now, now + self._expiry_delay)

    async def finish_upload(self, upload: Upload, part: PartFile, sha256: bytes) -> FileInfo:
        """Check the whole file's SHA-256 and make it visible at its target, atomically."""
        check_sha256(sha256, "finish.sha256")
        expected = upload.sha256 or sha256
        if upload.sha256 and sha256 and upload.sha256 != sha256:
            raise bad("finish.sha256", "differs from the sha256 given at start")
        if not expected:
            raise bad("finish.sha256", "is required when the start gave none")
        actual = part.sha256()
        if actual != expected:
            await self._end_upload(upload.id, UploadState.FAILED, locked=True)
            raise DataLoss(
                f"the file's SHA-256 is {actual.hex()}, not {expected.hex()}; "
                "the upload failed and its bytes were discarded",
                reason="SHA256_MISMATCH",
                metadata={"sha256": actual.hex()},
            )
        info = FileInfo(upload.target, upload.total_size, actual, _now())
        async with self._target_held(upload.owner, upload.target):
            root = self._root_of(upload.owner, upload.target)
            components = upload.target.path.split("/")
            if upload.target.dataset:
                await asyncio.to_thread(os.chmod, part.path, 0o444)
            try:
                await asyncio.to_thread(
                    blobs.place, part.path, root, components, overwrite=upload.overwrite
                )
            except blobs.TargetExists:
                if not await self._holds(root, components, info):
                    raise _exists(upload.target) from None
                await asyncio.to_thread(blobs.remove, part.path)
            except (blobs.TargetIsDirectory, UnsafePath):
                raise _unsafe(upload.target) from None
            async with self._store.transaction() as tx:
                await self._repository.put_file(tx, upload.owner, info)
                await self._repository.set_state(tx, upload.id, UploadState.FINISHED, _now())
        self._live.pop(upload.id, None)
        return info

    async def finished_ack(self, upload: Upload) -> Ack:
        """The answer to finishing (or resuming) a finished upload again."""
        info = await self._repository.get_file(
            upload.owner, upload.target.scope, upload.target.path
        )
        if info is None:  # replaced or removed since; report the upload as it finished
            info = FileInfo(upload.target, upload.total_size, upload.sha256, upload.update_time)
        return self.first_ack(upload.id, upload.total_size, info)

    def first_ack(self, upload_id: str, committed: int, file: FileInfo | None = None) -> Ack:
        """The first answer of an Upload stream: where the upload stands, and the limits the
        client keeps to (largest chunk, most bytes unacknowledged)."""
        settings = self.settings
        return Ack(
            upload_id, committed, settings.max_chunk_bytes, file, settings.upload_window_bytes
        )

    async def expire_uploads(self, now: datetime | None = None) -> list[str]:
        """Expire the ACTIVE uploads past their expiry time that no stream is writing; returns
        their ids."""
        expired = []
        for upload in await self._repository.expired_uploads(now or _now()):
            live = self._live.get(upload.id)
            if live is not None and live.lock.locked():
                continue
            await self._end_upload(upload.id, UploadState.EXPIRED)
            expired.append(upload.id)
        return expired

    async def purge_ended_uploads(self, now: datetime | None = None) -> int:
        """Delete the records of uploads that ended (finished, expired, cancelled, failed)
        longer than ``upload_retention_seconds`` ago; returns how many. Finished files stay;
        an upload id or request id purged is then unknown."""
        retention = timedelta(seconds=self.settings.upload_retention_seconds)
        return await self._repository.delete_ended_uploads((now or _now()) - retention)

    # ------------------------------------------------------------------ job hooks

    async def job_submitted(self, owner: str, job_id: str) -> None:
        """A job left CREATED: its active uploads are cancelled."""
        for upload in await self._repository.active_uploads(owner, f"job/{job_id}"):
            await self._end_upload(upload.id, UploadState.CANCELLED)

    async def dataset_states(self, owner: str, names: list[str]) -> dict[str, bool]:
        """Of the owner's datasets among ``names``: name -> sealed. Missing ones are absent."""
        found = {}
        for name in names:
            dataset = await self._repository.get_dataset(owner, name)
            if dataset is not None:
                found[name] = dataset.state is DatasetState.SEALED
        return found

    def dataset_dir(self, owner: str, name: str) -> Path:
        """Where a dataset's files are."""
        return self._datasets_dir / _owner_dir(owner) / name

    # ------------------------------------------------------------------ files

    async def download(
        self, owner: str, ref: FileRef, offset: int, length: int
    ) -> AsyncIterator[DownloadItem]:
        """The file's info, then its bytes from ``offset`` in chunks with their CRC32C."""
        components = check_ref(ref, "file", for_upload=False)
        if offset < 0:
            raise bad("offset", "must not be negative")
        if length < 0:
            raise bad("length", "must not be negative")
        info, fd = await self._open_file(owner, ref, components)
        try:
            if offset > info.size:
                raise OutOfRange(
                    f"offset {offset} is beyond the end of the file ({info.size} bytes)",
                    metadata={"size_bytes": str(info.size)},
                )
            yield info
            end = info.size if not length else min(info.size, offset + length)
            step = min(self.settings.max_chunk_bytes, DOWNLOAD_PIECE_BYTES)
            pieces = read_pieces(fd, offset, end, step, drop_behind=self.settings.drop_cache_behind)
            async with contextlib.aclosing(pieces):
                async for piece in pieces:
                    yield piece
        finally:
            await asyncio.to_thread(os.close, fd)

    async def list_files(
        self,
        owner: str,
        job_id: str,
        dataset: str,
        area: Area,
        prefix: str,
        requested_size: int,
        token: str,
    ) -> Page[FileInfo]:
        """One page of a job's (or a dataset's) finished files, by area then path."""
        if bool(job_id) == bool(dataset):
            raise bad("owner", "exactly one of job_id and dataset is required")
        size = page_size(requested_size)
        scope_key = json.dumps([job_id, dataset, area.value, prefix])
        after = _decode_token(token, scope_key) if token else None
        if dataset:
            check_dataset_name(dataset, "dataset")
            if area is not Area.NONE:
                raise bad("area", "must be unspecified for a dataset")
            await self.get_dataset(owner, dataset)
            files = await self._repository.list_files(
                owner, f"dataset/{dataset}", prefix, after[1] if after else None, size + 1
            )
        else:
            files = await self._job_files(owner, job_id, area, prefix, after, size + 1)
        if len(files) <= size:
            return Page(files, "")
        last = files[size - 1]
        return Page(files[:size], _encode_token((last.ref.area.value, last.ref.path), scope_key))

    # ------------------------------------------------------------------ datasets

    async def create_dataset(
        self,
        owner: str,
        name: str,
        description: str,
        labels: Mapping[str, str],
        request_id: str,
    ) -> Dataset:
        """Create an OPEN dataset; a retry with the same request_id returns it."""
        check_dataset_name(name, "dataset.name")
        check_dataset_fields(description, labels)
        check_request_id(request_id)
        fingerprint = dataset_fingerprint(name, description, labels)
        dataset = Dataset(
            owner=owner,
            name=name,
            state=DatasetState.OPEN,
            create_time=_now(),
            description=description,
            labels=dict(labels),
            request_id=request_id,
        )
        try:
            async with self._store.transaction() as tx:
                if request_id:
                    earlier = await self._repository.dataset_by_request(tx, owner, request_id)
                    if earlier is not None:
                        if earlier[1] != fingerprint:
                            error = AlreadyExists(
                                "dataset",
                                earlier[0].name,
                                f"request_id {request_id!r} was already used for dataset "
                                f"{earlier[0].name} with a different request",
                            )
                            error.reason = "REQUEST_ID_REUSED"
                            raise error
                        return earlier[0]
                if await self._repository.get_dataset(owner, name, tx) is not None:
                    raise AlreadyExists("dataset", name)
                await self._repository.insert_dataset(tx, dataset, fingerprint)
        except ConstraintError:
            raise AlreadyExists("dataset", name) from None
        return dataset

    async def get_dataset(self, owner: str, name: str) -> Dataset:
        """The owner's dataset; NOT_FOUND for a missing one and for someone else's."""
        dataset = await self._repository.get_dataset(owner, name)
        if dataset is None:
            raise NotFound("dataset", name)
        return dataset

    async def list_datasets(
        self, owner: str, state: DatasetState | None, requested_size: int, token: str
    ) -> Page[Dataset]:
        """One page of the owner's datasets, by name."""
        size = page_size(requested_size)
        scope_key = state.value if state else ""
        after = _decode_token(token, scope_key)[1] if token else None
        found = await self._repository.list_datasets(owner, state, after, size + 1)
        if len(found) <= size:
            return Page(found, "")
        return Page(found[:size], _encode_token(("", found[size - 1].name), scope_key))

    async def seal_dataset(self, owner: str, name: str) -> Dataset:
        """Seal a dataset: no more uploads; jobs waiting for it may run. Idempotent."""
        async with self._dataset_lock(owner, name):
            dataset = await self.get_dataset(owner, name)
            if dataset.state is DatasetState.SEALED:
                return dataset
            async with self._store.transaction() as tx:
                await self._repository.seal_dataset(tx, owner, name, _now())
        for upload in await self._repository.active_uploads(owner, f"dataset/{name}"):
            await self._end_upload(upload.id, UploadState.CANCELLED)
        await self._jobs.dataset_sealed(owner, name)
        return await self.get_dataset(owner, name)

    async def delete_dataset(self, owner: str, name: str) -> None:
        """Delete a dataset and its files, unless a job that is not terminal depends on it."""
        await self.get_dataset(owner, name)
        users = await self._jobs.jobs_needing_dataset(owner, name)
        if users:
            raise FailedPrecondition(
                f"job {users[0]} depends on dataset {name} and has not ended",
                reason="DATASET_IN_USE",
                metadata={"job_id": users[0]},
            )
        for upload in await self._repository.active_uploads(owner, f"dataset/{name}"):
            await self._end_upload(upload.id, UploadState.CANCELLED)
        async with self._dataset_lock(owner, name):
            await self.get_dataset(owner, name)
            async with self._store.transaction() as tx:
                await self._repository.delete_dataset(tx, owner, name)
            await asyncio.to_thread(self._discard_tree, self.dataset_dir(owner, name))

    # ------------------------------------------------------------------ internals

    @property
    def _expiry_delay(self) -> timedelta:
        return timedelta(seconds=self.settings.upload_expiry_seconds)

    def _part_path(self, upload_id: str) -> Path:
        return self._uploads_dir / f"{upload_id}.part"

    def _root_of(self, owner: str, ref: FileRef) -> Path:
        if ref.dataset:
            return self.dataset_dir(owner, ref.dataset)
        if ref.area is Area.OUTPUT:
            return self._jobs.output_dir(ref.job_id)
        return self._jobs.input_dir(ref.job_id)

    async def _check_target(
        self, owner: str, ref: FileRef, components: tuple[str, ...], overwrite: bool
    ) -> None:
        async with self._target_held(owner, ref):
            root = self._root_of(owner, ref)
            unsafe = await asyncio.to_thread(unsafe_component, root, components)
            if unsafe is not None:
                raise _unsafe(ref)
            if not overwrite:
                info = await self._repository.get_file(owner, ref.scope, ref.path)
                exists = info is not None or await asyncio.to_thread(
                    os.path.lexists, root.joinpath(*components)
                )
                if exists:
                    raise _exists(ref)

    @asynccontextmanager
    async def _target_held(self, owner: str, ref: FileRef) -> AsyncIterator[None]:
        """Hold the target open for writes (job CREATED, dataset OPEN) for the block."""
        if ref.job_id:
            async with self._jobs.accepting_inputs(owner, ref.job_id):
                yield
            return
        async with self._dataset_lock(owner, ref.dataset):
            dataset = await self.get_dataset(owner, ref.dataset)
            if dataset.state is DatasetState.SEALED:
                raise FailedPrecondition(
                    f"dataset {ref.dataset} is sealed; it takes no more files",
                    reason="DATASET_SEALED",
                )
            yield

    async def _end_upload(
        self, upload_id: str, state: UploadState, *, locked: bool = False
    ) -> None:
        """Move an ACTIVE upload to a terminal ``state`` and discard its bytes."""
        live = self._live.setdefault(upload_id, Live())
        if not locked:
            if live.stream is not None:
                live.stream.interrupt(
                    FailedPrecondition(
                        f"upload {upload_id} was {state.value.lower()}",
                        reason=f"UPLOAD_{state.value}",
                    )
                )
            await live.lock.acquire()
        try:
            upload = await self._repository.get_upload(upload_id)
            if upload is not None and upload.state is UploadState.ACTIVE:
                async with self._store.transaction() as tx:
                    await self._repository.set_state(tx, upload_id, state, _now())
                await asyncio.to_thread(blobs.remove, self._part_path(upload_id))
        finally:
            if not locked:
                live.lock.release()
            if live.stream is None and not live.lock.locked():
                self._live.pop(upload_id, None)

    async def _holds(self, root: Path, components: list[str], info: FileInfo) -> bool:
        """Whether the file at the target already is this upload's file (a finish that ran
        before a crash, its record lost)."""
        try:
            fd = await asyncio.to_thread(open_regular, root, components)
        except FileNotFoundError:
            return False
        try:
            return await asyncio.to_thread(blobs.sha256_of, fd) == info.sha256
        finally:
            os.close(fd)

    async def _open_file(
        self, owner: str, ref: FileRef, components: tuple[str, ...]
    ) -> tuple[FileInfo, int]:
        if ref.dataset:
            await self.get_dataset(owner, ref.dataset)
            info = await self._repository.get_file(owner, ref.scope, ref.path)
        else:
            job = await self._jobs.job_view(owner, ref.job_id)
            if ref.area is Area.OUTPUT:
                if not job.terminal:
                    raise FailedPrecondition(
                        f"job {ref.job_id} has not ended; its outputs are not final",
                        reason="JOB_NOT_TERMINAL",
                    )
                return await self._open_output(ref, components)
            info = await self._repository.get_file(owner, ref.scope, ref.path)
        if info is None:
            raise NotFound("file", ref.path)
        try:
            fd = await asyncio.to_thread(open_regular, self._root_of(owner, ref), components)
        except FileNotFoundError:
            raise NotFound("file", ref.path) from None
        return info, fd

    async def _open_output(self, ref: FileRef, components: tuple[str, ...]) -> tuple[FileInfo, int]:
        try:
            fd = await asyncio.to_thread(
                open_regular, self._jobs.output_dir(ref.job_id), components
            )
        except FileNotFoundError:
            raise NotFound("file", ref.path) from None
        try:
            digest = await asyncio.to_thread(self._hashes.sha256, fd)
            stat = await asyncio.to_thread(os.fstat, fd)
        except BaseException:
            os.close(fd)
            raise
        moment = datetime.fromtimestamp(stat.st_mtime, UTC)
        return FileInfo(ref, stat.st_size, digest, moment), fd

    async def _job_files(
        self,
        owner: str,
        job_id: str,
        area: Area,
        prefix: str,
        after: tuple[str, str] | None,
        limit: int,
    ) -> list[FileInfo]:
        job = await self._jobs.job_view(owner, job_id)
        files: list[FileInfo] = []
        if area in (Area.NONE, Area.INPUT) and (after is None or after[0] == Area.INPUT.value):
            files = await self._repository.list_files(
                owner, f"job/{job_id}", prefix, after[1] if after else None, limit
            )
        if len(files) >= limit or area is Area.INPUT or not job.terminal:
            return files
        after_output = after[1] if after and after[0] == Area.OUTPUT.value else None
        placed = [("", self._jobs.input_dir(job_id))] + [
            (f"{name}/", self.dataset_dir(owner, name)) for name in job.datasets
        ]
        outputs = await asyncio.to_thread(scan_outputs, self._jobs.output_dir(job_id), placed)
        wanted = [
            output
            for output in outputs
            if output.path.startswith(prefix)
            and (after_output is None or output.path > after_output)
        ][: limit - len(files)]
        for output in wanted:
            info = await self._output_info(job_id, output)
            if info is not None:
                files.append(info)
        return files

    async def _output_info(self, job_id: str, output: OutputFile) -> FileInfo | None:
        ref = FileRef(path=output.path, job_id=job_id, area=Area.OUTPUT)
        try:
            info, fd = await self._open_output(ref, tuple(output.path.split("/")))
        except NotFound:
            return None
        os.close(fd)
        return info

    @asynccontextmanager
    async def _dataset_lock(self, owner: str, name: str) -> AsyncIterator[None]:
        key = (owner, name)
        lock = self._dataset_locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and not getattr(lock, "_waiters", None):
                self._dataset_locks.pop(key, None)

    def _discard_tree(self, directory: Path) -> None:
        if not directory.exists():
            return
        trash = self._datasets_dir / ".trash" / uuid.uuid4().hex
        trash.parent.mkdir(parents=True, exist_ok=True)
        directory.rename(trash)
        shutil.rmtree(trash, ignore_errors=True)

    async def _remove_orphans(self) -> None:
        names = await asyncio.to_thread(os.listdir, self._uploads_dir)
        for name in names:
            upload_id = name.removesuffix(".part")
            upload = await self._repository.get_upload(upload_id)
            if upload is None or upload.state is not UploadState.ACTIVE:
                await asyncio.to_thread(blobs.remove, self._uploads_dir / name)

    async def _expire_round(self) -> None:
        expired = await self.expire_uploads()
        if expired:
            _log.info("uploads expired", extra={"count": len(expired)})
        purged = await self.purge_ended_uploads()
        if purged:
            _log.info("ended uploads purged", extra={"count": purged})


def _now() -> datetime:
    return datetime.now(UTC)


def _owner_dir(owner: str) -> str:
    # User ids come from the identity provider: quoted, they are one safe path component.
    return "u-" + urllib.parse.quote(owner, safe="")


def _exists(ref: FileRef) -> AlreadyExists:
    return AlreadyExists("file", ref.path, f"file {ref.path} exists; set overwrite to replace it")


def _unsafe(ref: FileRef) -> InvalidArgument:
    return InvalidArgument(
        [
            FieldViolation(
                "start.target.path", "passes through a symbolic link or ends at a directory"
            )
        ],
        reason="UNSAFE_TARGET_PATH",
    )


def _encode_token(position: tuple[str, str], scope: str) -> str:
    raw = json.dumps([position[0], position[1], scope], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_token(token: str, scope: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        area, path, token_scope = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise bad("page_token", "is not a page token this API returned") from None
    if token_scope != scope or not isinstance(area, str) or not isinstance(path, str):
        raise bad("page_token", "belongs to a listing with other parameters")
    return area, path


__all__ = ["DataService", "DownloadItem"]
