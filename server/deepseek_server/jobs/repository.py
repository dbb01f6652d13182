"""Where jobs are kept: portable SQL over the :class:`~deepseek_server.storage.Store`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from deepseek_server.accounts.model import Charge
from deepseek_server.clock import micros
from deepseek_server.jobs.codec import decode_job, encode_spec, encode_status
from deepseek_server.jobs.model import Job, JobEvent, JobState, ListFilter
from deepseek_server.storage import Queryable, Store, Transaction

_EVENT_COLUMNS = (
    "e.sequence, e.previous_state, e.time AS event_time, e.status AS event_status, "
    "j.id, j.owner, j.request_id, j.spec, j.create_time"
)


@dataclass(frozen=True, slots=True)
class Change:
    """A job as it is to be written, and the state it had before (None for a new job)."""

    job: Job
    previous_state: JobState | None
    fingerprint: str = ""
    """For a new job with a request id: what identifies the request's body."""
    announce: bool = True
    """False for a change that is no state transition (e.g. the executor's id for the job):
    it is stored, but gets no sequence number and no event."""
    charge: Charge | None = None
    """For a job that ended after running: its charge, written in the same transaction."""
    spec_text: str = ""
    """For a new job: its spec as stored, when the caller encoded it already."""


@dataclass(frozen=True, slots=True)
class ListCursor:
    """Where a listing (newest first) stopped."""

    create_time: int
    job_id: str


class JobRepository:
    """Reads and writes jobs and their event history."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def write(self, tx: Transaction, changes: Sequence[Change]) -> list[JobEvent | None]:
        """Record new jobs and changes, numbering each transition; one event (or None) each."""
        row = await tx.fetch_one("SELECT COALESCE(MAX(sequence), 0) AS last FROM job_events")
        sequence = int(row["last"]) if row else 0
        new_rows: list[dict[str, Any]] = []
        label_rows: list[dict[str, Any]] = []
        # Several changes of one job may share a batch: its row gets the last of them.
        latest: dict[str, dict[str, Any]] = {}
        event_rows: list[dict[str, Any]] = []
        results: list[JobEvent | None] = []
        for change in changes:
            job = change.job
            if change.announce:
                sequence += 1
                job = replace(job, state_sequence=sequence)
            status = encode_status(job)
            if change.previous_state is None:
                new_rows.append(
                    {
                        "id": job.id,
                        "owner": job.owner,
                        "request_id": job.request_id or None,
                        "fingerprint": change.fingerprint or None,
                        "job_name": job.spec.job_name,
                        "spec": change.spec_text or encode_spec(job.spec),
                        "create_time": micros(job.create_time),
                        "state": job.state.value,
                        "status": status,
                        "sequence": job.state_sequence,
                    }
                )
                label_rows.extend(
                    {"id": job.id, "key": k, "value": v} for k, v in job.spec.labels.items()
                )
            else:
                latest[job.id] = {
                    "id": job.id,
                    "state": job.state.value,
                    "status": status,
                    "sequence": job.state_sequence,
                }
            if not change.announce:
                results.append(None)
                continue
            previous = change.previous_state
            event_rows.append(
                {
                    "sequence": sequence,
                    "id": job.id,
                    "owner": job.owner,
                    "previous": previous.value if previous else None,
                    "time": micros(job.update_time),
                    "status": status,
                }
            )
            results.append(JobEvent(sequence, job, previous, job.update_time))
        if new_rows:
            await tx.execute_many(
                "INSERT INTO jobs (id, owner, request_id, request_fingerprint, job_name, spec, "
                "create_time, state, status, state_sequence) VALUES (:id, :owner, :request_id, "
                ":fingerprint, :job_name, :spec, :create_time, :state, :status, :sequence)",
                new_rows,
            )
        if label_rows:
            await tx.execute_many(
                "INSERT INTO job_labels (job_id, key, value) VALUES (:id, :key, :value)", label_rows
            )
        if latest:
            await tx.execute_many(
                "UPDATE jobs SET state = :state, status = :status, state_sequence = :sequence "
                "WHERE id = :id",
                list(latest.values()),
            )
        if event_rows:
            await tx.execute_many(
                "INSERT INTO job_events (sequence, job_id, owner, previous_state, time, status) "
                "VALUES (:sequence, :id, :owner, :previous, :time, :status)",
                event_rows,
            )
        return results

    async def get(self, job_id: str, owner: str | None = None) -> Job | None:
        """The job, if it exists (and belongs to ``owner`` when one is given)."""
        row = await self._store.fetch_one("SELECT * FROM jobs WHERE id = :id", {"id": job_id})
        if row is None or (owner is not None and row["owner"] != owner):
            return None
        return decode_job(row)

    async def get_many(self, job_ids: Sequence[str], owner: str) -> dict[str, Job]:
        """Those of ``job_ids`` that exist and belong to ``owner``, by id."""
        if not job_ids:
            return {}
        names = {f"id{i}": job_id for i, job_id in enumerate(job_ids)}
        rows = await self._store.fetch_all(
            f"SELECT * FROM jobs WHERE owner = :owner AND id IN ({_placeholders(names)})",
            {"owner": owner, **names},
        )
        return {row["id"]: decode_job(row) for row in rows}

    async def find_requests(
        self, owner: str, request_ids: Sequence[str]
    ) -> dict[str, tuple[Job, str]]:
        """Jobs created by ``owner`` under these request ids, with their request fingerprints."""
        if not request_ids:
            return {}
        names = {f"r{i}": request_id for i, request_id in enumerate(request_ids)}
        rows = await self._store.fetch_all(
            f"SELECT * FROM jobs WHERE owner = :owner AND request_id IN ({_placeholders(names)})",
            {"owner": owner, **names},
        )
        return {row["request_id"]: (decode_job(row), row["request_fingerprint"]) for row in rows}

    async def unfinished(self) -> list[Job]:
        """Every job not in a terminal state, oldest first (for recovery after a restart)."""
        rows = await self._store.fetch_all(
            "SELECT * FROM jobs WHERE state IN ('CREATED', 'QUEUED', 'RUNNING') "
            "ORDER BY state_sequence"
        )
        return [decode_job(row) for row in rows]

    async def list_page(
        self, owner: str, conditions: ListFilter, after: ListCursor | None, limit: int
    ) -> list[Job]:
        """Up to ``limit`` of ``owner``'s jobs meeting ``conditions``, newest first."""
        where = ["owner = :owner"]
        params: dict[str, object] = {"owner": owner, "limit": limit}
        if conditions.states:
            states = {f"s{i}": s.value for i, s in enumerate(sorted(conditions.states, key=str))}
            where.append(f"state IN ({_placeholders(states)})")
            params.update(states)
        if conditions.name_prefix:
            where.append("substr(job_name, 1, :prefix_length) = :prefix")
            params.update(prefix=conditions.name_prefix, prefix_length=len(conditions.name_prefix))
        if conditions.created_after is not None:
            where.append("create_time > :created_after")
            params["created_after"] = micros(conditions.created_after)
        if conditions.created_before is not None:
            where.append("create_time < :created_before")
            params["created_before"] = micros(conditions.created_before)
        for i, (key, value) in enumerate(sorted(conditions.labels.items())):
            where.append(
                "EXISTS (SELECT 1 FROM job_labels l WHERE l.job_id = jobs.id "
                f"AND l.key = :lk{i} AND l.value = :lv{i})"
            )
            params.update({f"lk{i}": key, f"lv{i}": value})
        if after is not None:
            where.append(
                "(create_time < :after_time OR (create_time = :after_time AND id < :after_id))"
            )
            params.update(after_time=after.create_time, after_id=after.job_id)
        rows = await self._store.fetch_all(
            f"SELECT * FROM jobs WHERE {' AND '.join(where)} "
            "ORDER BY create_time DESC, id DESC LIMIT :limit",
            params,
        )
        return [decode_job(row) for row in rows]

    async def events_after(
        self, owner: str, after: int, job_ids: Sequence[str] = (), limit: int = 500
    ) -> list[JobEvent]:
        """``owner``'s state changes numbered after ``after`` (of ``job_ids`` only, if given)."""
        params: dict[str, object] = {"owner": owner, "after": after, "limit": limit}
        only = ""
        if job_ids:
            names = {f"id{i}": job_id for i, job_id in enumerate(job_ids)}
            only = f"AND e.job_id IN ({_placeholders(names)})"
            params.update(names)
        rows = await self._store.fetch_all(
            f"SELECT {_EVENT_COLUMNS} FROM job_events e JOIN jobs j ON j.id = e.job_id "
            f"WHERE e.owner = :owner AND e.sequence > :after {only} "
            "ORDER BY e.sequence LIMIT :limit",
            params,
        )
        return [_event(row) for row in rows]

    async def last_sequence(self, reader: Queryable | None = None) -> int:
        """The number of the latest state change recorded (0 when there is none)."""
        row = await (reader or self._store).fetch_one(
            "SELECT COALESCE(MAX(sequence), 0) AS last FROM job_events"
        )
        return int(row["last"]) if row else 0


def _event(row: Any) -> JobEvent:
    job = decode_job(row, row["event_status"])
    previous = JobState(row["previous_state"]) if row["previous_state"] else None
    moment = job.update_time
    return JobEvent(int(row["sequence"]), job, previous, moment)


def _placeholders(names: Mapping[str, object]) -> str:
    return ", ".join(f":{name}" for name in names)


def cursor_of(job: Job) -> ListCursor:
    """The cursor that continues a listing after ``job``."""
    return ListCursor(micros(job.create_time), job.id)
