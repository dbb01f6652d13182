"""Where uploads, finished files and datasets are kept: portable SQL over the Store."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from deepseek_server.clock import from_micros, micros
from deepseek_server.data.model import (
    Area,
    Dataset,
    DatasetState,
    FileInfo,
    FileRef,
    Upload,
    UploadState,
)
from deepseek_server.storage import Queryable, Row, Store


def ref_of(scope: str, path: str) -> FileRef:
    """The file address a stored scope and path stand for."""
    kind, _, name = scope.partition("/")
    if kind == "job":
        return FileRef(path=path, job_id=name, area=Area.INPUT)
    return FileRef(path=path, dataset=name)


class DataRepository:
    """Reads and writes uploads, files and datasets."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # ------------------------------------------------------------------ uploads

    async def insert_upload(self, tx: Queryable, upload: Upload) -> None:
        """Record a new upload."""
        await tx.execute(
            "INSERT INTO uploads (id, owner, scope, path, total_size, sha256, request_id, "
            "overwrite, state, committed_size, create_time, update_time, expire_time) VALUES "
            "(:id, :owner, :scope, :path, :total_size, :sha256, :request_id, :overwrite, "
            ":state, :committed_size, :create_time, :update_time, :expire_time)",
            {
                "id": upload.id,
                "owner": upload.owner,
                "scope": upload.target.scope,
                "path": upload.target.path,
                "total_size": upload.total_size,
                "sha256": upload.sha256,
                "request_id": upload.request_id or None,
                "overwrite": int(upload.overwrite),
                "state": upload.state.value,
                "committed_size": upload.committed_size,
                "create_time": micros(upload.create_time),
                "update_time": micros(upload.update_time),
                "expire_time": micros(upload.expire_time),
            },
        )

    async def get_upload(self, upload_id: str, reader: Queryable | None = None) -> Upload | None:
        """The upload, whoever owns it."""
        row = await (reader or self._store).fetch_one(
            "SELECT * FROM uploads WHERE id = :id", {"id": upload_id}
        )
        return _upload(row) if row else None

    async def upload_by_request(self, tx: Queryable, owner: str, request_id: str) -> Upload | None:
        """The owner's ACTIVE or FINISHED upload started with ``request_id``."""
        row = await tx.fetch_one(
            "SELECT * FROM uploads WHERE owner = :owner AND request_id = :request_id "
            "AND state IN ('ACTIVE', 'FINISHED') ORDER BY create_time DESC LIMIT 1",
            {"owner": owner, "request_id": request_id},
        )
        return _upload(row) if row else None

    async def set_committed(
        self, upload_id: str, committed: int, now: datetime, expire: datetime
    ) -> None:
        """Record that ``committed`` bytes are durably in the part file."""
        await self._store.execute(
            "UPDATE uploads SET committed_size = :committed, update_time = :now, "
            "expire_time = :expire WHERE id = :id AND state = 'ACTIVE'",
            {"id": upload_id, "committed": committed, "now": micros(now), "expire": micros(expire)},
        )

    async def set_state(
        self, tx: Queryable, upload_id: str, state: UploadState, now: datetime
    ) -> None:
        """Move an upload to ``state``."""
        await tx.execute(
            "UPDATE uploads SET state = :state, update_time = :now WHERE id = :id",
            {"id": upload_id, "state": state.value, "now": micros(now)},
        )

    async def active_uploads(self, owner: str, scope: str) -> list[Upload]:
        """The owner's ACTIVE uploads into ``scope``."""
        rows = await self._store.fetch_all(
            "SELECT * FROM uploads WHERE owner = :owner AND scope = :scope AND state = 'ACTIVE'",
            {"owner": owner, "scope": scope},
        )
        return [_upload(row) for row in rows]

    async def expired_uploads(self, now: datetime) -> list[Upload]:
        """ACTIVE uploads whose expiry time has passed."""
        rows = await self._store.fetch_all(
            "SELECT * FROM uploads WHERE state = 'ACTIVE' AND expire_time <= :now",
            {"now": micros(now)},
        )
        return [_upload(row) for row in rows]

    async def delete_ended_uploads(self, ended_before: datetime) -> int:
        """Forget the uploads that left ACTIVE before ``ended_before``; returns how many.
        Their files, if they finished, stay."""
        return await self._store.execute(
            "DELETE FROM uploads WHERE state != 'ACTIVE' AND update_time < :before",
            {"before": micros(ended_before)},
        )

    async def storage_used(self, tx: Queryable, owner: str) -> int:
        """Bytes the owner's finished files hold plus the declared size of its active uploads."""
        row = await tx.fetch_one(
            "SELECT (SELECT COALESCE(SUM(size), 0) FROM data_files WHERE owner = :owner) + "
            "(SELECT COALESCE(SUM(total_size), 0) FROM uploads "
            "WHERE owner = :owner AND state = 'ACTIVE') AS used",
            {"owner": owner},
        )
        return int(row["used"]) if row else 0

    # ------------------------------------------------------------------ files

    async def put_file(self, tx: Queryable, owner: str, info: FileInfo) -> None:
        """Record a finished file, replacing one at the same path."""
        await tx.execute(
            "INSERT INTO data_files (owner, scope, path, size, sha256, create_time) VALUES "
            "(:owner, :scope, :path, :size, :sha256, :time) ON CONFLICT (owner, scope, path) "
            "DO UPDATE SET size = excluded.size, sha256 = excluded.sha256, "
            "create_time = excluded.create_time",
            {
                "owner": owner,
                "scope": info.ref.scope,
                "path": info.ref.path,
                "size": info.size,
                "sha256": info.sha256,
                "time": micros(info.create_time),
            },
        )

    async def get_file(self, owner: str, scope: str, path: str) -> FileInfo | None:
        """A finished file."""
        row = await self._store.fetch_one(
            "SELECT * FROM data_files WHERE owner = :owner AND scope = :scope AND path = :path",
            {"owner": owner, "scope": scope, "path": path},
        )
        return _file(row) if row else None

    async def list_files(
        self, owner: str, scope: str, prefix: str, after: str | None, limit: int
    ) -> list[FileInfo]:
        """Up to ``limit`` finished files of ``scope`` whose paths start with ``prefix``,
        ordered by path, after the path ``after``."""
        rows = await self._store.fetch_all(
            "SELECT * FROM data_files WHERE owner = :owner AND scope = :scope "
            "AND substr(path, 1, :prefix_length) = :prefix AND path > :after "
            "ORDER BY path LIMIT :limit",
            {
                "owner": owner,
                "scope": scope,
                "prefix": prefix,
                "prefix_length": len(prefix),
                "after": after or "",
                "limit": limit,
            },
        )
        return [_file(row) for row in rows]

    # ------------------------------------------------------------------ datasets

    async def insert_dataset(self, tx: Queryable, dataset: Dataset, fingerprint: str) -> None:
        """Record a new dataset."""
        await tx.execute(
            "INSERT INTO datasets (owner, name, description, labels, state, create_time, "
            "request_id, request_fingerprint) VALUES (:owner, :name, :description, :labels, "
            ":state, :create_time, :request_id, :fingerprint)",
            {
                "owner": dataset.owner,
                "name": dataset.name,
                "description": dataset.description,
                "labels": json.dumps(dict(dataset.labels), sort_keys=True),
                "state": dataset.state.value,
                "create_time": micros(dataset.create_time),
                "request_id": dataset.request_id or None,
                "fingerprint": fingerprint,
            },
        )

    async def dataset_by_request(
        self, tx: Queryable, owner: str, request_id: str
    ) -> tuple[Dataset, str] | None:
        """The owner's dataset created with ``request_id`` and that request's fingerprint."""
        row = await tx.fetch_one(
            f"SELECT {_DATASET_COLUMNS} FROM datasets d WHERE d.owner = :owner "
            "AND d.request_id = :request_id",
            {"owner": owner, "request_id": request_id},
        )
        return (_dataset(row), str(row["request_fingerprint"])) if row else None

    async def get_dataset(
        self, owner: str, name: str, reader: Queryable | None = None
    ) -> Dataset | None:
        """The owner's dataset, with its file count and size."""
        row = await (reader or self._store).fetch_one(
            f"SELECT {_DATASET_COLUMNS} FROM datasets d WHERE d.owner = :owner AND d.name = :name",
            {"owner": owner, "name": name},
        )
        return _dataset(row) if row else None

    async def list_datasets(
        self, owner: str, state: DatasetState | None, after: str | None, limit: int
    ) -> list[Dataset]:
        """Up to ``limit`` of the owner's datasets, by name, after the name ``after``."""
        only = "AND d.state = :state" if state is not None else ""
        rows = await self._store.fetch_all(
            f"SELECT {_DATASET_COLUMNS} FROM datasets d WHERE d.owner = :owner "
            f"AND d.name > :after {only} ORDER BY d.name LIMIT :limit",
            {
                "owner": owner,
                "after": after or "",
                "limit": limit,
                **({"state": state.value} if state is not None else {}),
            },
        )
        return [_dataset(row) for row in rows]

    async def seal_dataset(self, tx: Queryable, owner: str, name: str, now: datetime) -> None:
        """Seal an OPEN dataset."""
        await tx.execute(
            "UPDATE datasets SET state = 'SEALED', seal_time = :now "
            "WHERE owner = :owner AND name = :name AND state = 'OPEN'",
            {"owner": owner, "name": name, "now": micros(now)},
        )

    async def delete_dataset(self, tx: Queryable, owner: str, name: str) -> None:
        """Forget a dataset and its files."""
        params = {"owner": owner, "name": name, "scope": f"dataset/{name}"}
        await tx.execute("DELETE FROM data_files WHERE owner = :owner AND scope = :scope", params)
        await tx.execute("DELETE FROM datasets WHERE owner = :owner AND name = :name", params)


_DATASET_COLUMNS = (
    "d.owner, d.name, d.description, d.labels, d.state, d.create_time, d.seal_time, "
    "d.request_id, d.request_fingerprint, "
    "(SELECT COUNT(*) FROM data_files f WHERE f.owner = d.owner "
    "AND f.scope = 'dataset/' || d.name) AS file_count, "
    "(SELECT COALESCE(SUM(f.size), 0) FROM data_files f WHERE f.owner = d.owner "
    "AND f.scope = 'dataset/' || d.name) AS size_bytes"
)


def _upload(row: Row) -> Upload:
    return Upload(
        id=row["id"],
        owner=row["owner"],
        target=ref_of(row["scope"], row["path"]),
        total_size=int(row["total_size"]),
        sha256=bytes(row["sha256"]),
        state=UploadState(row["state"]),
        committed_size=int(row["committed_size"]),
        create_time=from_micros(row["create_time"]),
        update_time=from_micros(row["update_time"]),
        expire_time=from_micros(row["expire_time"]),
        request_id=row["request_id"] or "",
        overwrite=bool(row["overwrite"]),
    )


def _file(row: Row) -> FileInfo:
    return FileInfo(
        ref=ref_of(row["scope"], row["path"]),
        size=int(row["size"]),
        sha256=bytes(row["sha256"]),
        create_time=from_micros(row["create_time"]),
    )


def _dataset(row: Row) -> Dataset:
    labels: Any = json.loads(row["labels"])
    return Dataset(
        owner=row["owner"],
        name=row["name"],
        state=DatasetState(row["state"]),
        create_time=from_micros(row["create_time"]),
        description=row["description"],
        labels=labels,
        seal_time=from_micros(row["seal_time"]) if row["seal_time"] is not None else None,
        file_count=int(row["file_count"]),
        size_bytes=int(row["size_bytes"]),
        request_id=row["request_id"] or "",
    )
