"""The job domain's operations: what JobService's RPCs do, without gRPC."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from deepseek_server.accounts.model import Charge
from deepseek_server.accounts.service import Accounts
from deepseek_server.clock import utc_now
from deepseek_server.data.ports import JobView
from deepseek_server.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    GatewayError,
    InvalidArgument,
    NotFound,
    OutOfRange,
)
from deepseek_server.executors.base import Capabilities, Executor
from deepseek_server.jobs.codec import encode_spec
from deepseek_server.jobs.events import EventHub
from deepseek_server.jobs.model import (
    Job,
    JobEvent,
    JobSpec,
    JobState,
    ListFilter,
    Page,
    StateReason,
    new_job_id,
)
from deepseek_server.jobs.ports import DatasetGate
from deepseek_server.jobs.repository import Change, JobRepository, ListCursor, cursor_of
from deepseek_server.jobs.scheduler import Scheduler
from deepseek_server.jobs.validation import validate_spec
from deepseek_server.jobs.workspace import JobWorkspace
from deepseek_server.storage import Batcher, GroupCommit, Store, Transaction

MAX_BATCH = 1000
# How long a committed request id stays in memory for concurrent duplicates (seconds).
REQUEST_MEMORY_SECONDS = 10.0
MAX_WATCHED_JOBS = 1000
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
LOG_CHUNK_BYTES = 64 * 1024
# How often a followed log is checked for new output while its job runs.
LOG_POLL_SECONDS = 0.2


@dataclass(frozen=True, slots=True)
class CreateRequest:
    """One job to create."""

    spec: JobSpec
    submit: bool = False
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A watched job's state when the watch began."""

    job: Job


@dataclass(frozen=True, slots=True)
class SnapshotComplete:
    """Every snapshot has been sent; ``sequence`` is where the transitions continue."""

    sequence: int


WatchItem = Snapshot | SnapshotComplete | JobEvent


class JobService:
    """Creates, runs and reports jobs for their owners; one per gateway."""

    def __init__(
        self,
        store: Store,
        executor: Executor,
        workspace: JobWorkspace,
        base_environment: Mapping[str, str],
        accounts: Accounts,
    ) -> None:
        self._repository = JobRepository(store)
        self._accounts = accounts
        self._writer: GroupCommit[Change, JobEvent | None] = GroupCommit(store, self._write)
        # Concurrent creates look up their request ids in one query rather than one each.
        self._request_lookup: Batcher[tuple[str, str], tuple[Job, str] | None] = Batcher(
            self._find_requests
        )
        self._hub = EventHub()
        self._workspace = workspace
        self._scheduler = Scheduler(
            executor,
            self._repository,
            self._writer.commit_many,
            self._publish,
            workspace,
            base_environment,
            self._bill,
        )
        self._locks: dict[str, asyncio.Lock] = {}
        self._closed = False
        self._datasets: DatasetGate | None = None
        self._in_flight: dict[tuple[str, str], asyncio.Future[tuple[Job, str]]] = {}
        self._observers: list[Callable[[Sequence[JobEvent]], None]] = []

    @property
    def capabilities(self) -> Capabilities:
        """What the executor can ever run."""
        return self._scheduler.capabilities

    async def start(self) -> None:
        """Recover the jobs of a previous run and start scheduling."""
        self._hub.announce(await self._repository.last_sequence())
        unfinished = await self._repository.unfinished()
        await self._accounts.start(
            (job.id, job.owner, job.spec.resources, job.spec.timeout_seconds)
            for job in unfinished
            if job.state.is_active
        )
        await self._scheduler.recover(unfinished)
        self._scheduler.start()

    def end_streams(self) -> None:
        """End watch and log-follow streams with UNAVAILABLE (the gateway is shutting down)."""
        self._hub.close()

    async def close(self) -> None:
        """End streams, stop scheduling (running jobs go on) and finish writing. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._hub.close()
        await self._scheduler.close()
        await self._writer.drain()

    async def create(
        self, owner: str, requests: Sequence[CreateRequest]
    ) -> list[Job | GatewayError]:
        """Create jobs; one result per request, in order: the job, or why it was refused.

        A request_id seen before with the same request returns the job it created; with a
        different request it is refused (ALREADY_EXISTS).
        """
        results: list[Job | GatewayError | None] = [None] * len(requests)
        specs: dict[int, JobSpec] = {}
        violations: dict[int, list[FieldViolation]] = {}
        for index, request in enumerate(requests):
            specs[index], violations[index] = validate_spec(request.spec, self.capabilities)
        await self._check_dependencies(owner, specs, violations)
        request_ids = sorted({r.request_id for r in requests if r.request_id})
        found = await self._request_lookup.call_many([(owner, rid) for rid in request_ids])
        seen = {rid: hit for rid, hit in zip(request_ids, found, strict=True) if hit is not None}

        writes: list[tuple[int, Change]] = []
        waits: list[tuple[int, asyncio.Future[tuple[Job, str]], str]] = []
        promised: dict[tuple[str, str], asyncio.Future[tuple[Job, str]]] = {}
        for index, request in enumerate(requests):
            if violations[index]:
                results[index] = InvalidArgument(violations[index])
                continue
            spec = specs[index]
            spec_text = encode_spec(spec)
            fingerprint = _fingerprint(spec_text, request.submit)
            key = (owner, request.request_id)
            if request.request_id in seen:
                earlier, earlier_fingerprint = seen[request.request_id]
                results[index] = _same_request(earlier, earlier_fingerprint, fingerprint)
                continue
            if request.request_id and key in self._in_flight:
                waits.append((index, self._in_flight[key], fingerprint))
                continue
            job = self._new_job(owner, spec, request)
            if job.state is JobState.QUEUED:
                try:
                    self._reserve(job)
                except GatewayError as refused:
                    results[index] = refused
                    continue
            if request.request_id:
                promised[key] = self._in_flight[key] = asyncio.get_running_loop().create_future()
            writes.append((index, Change(job, None, fingerprint, spec_text=spec_text)))

        try:
            events = await self._writer.commit_many([change for _, change in writes])
        except BaseException as error:
            for _, change in writes:
                self._accounts.release(change.job.id, owner, 0)
            for key, future in promised.items():
                future.set_exception(error)
                future.exception()  # retrieved: waiters get it, nobody else must
                del self._in_flight[key]
            raise
        queued = []
        for (index, change), event in zip(writes, events, strict=True):
            assert event is not None
            results[index] = event.job
            key = (owner, event.job.request_id)
            if key in promised:
                promised[key].set_result((event.job, change.fingerprint))
            if event.job.state is JobState.QUEUED:
                queued.append(event.job)
        self._forget_later(promised)
        self._publish(events)
        await self._scheduler.admit(queued)

        for index, future, fingerprint in waits:
            try:
                earlier, earlier_fingerprint = await asyncio.shield(future)
            except Exception as error:
                results[index] = _as_gateway_error(error)
            else:
                results[index] = _same_request(earlier, earlier_fingerprint, fingerprint)
        return [result for result in results if result is not None]

    async def create_one(self, owner: str, request: CreateRequest) -> Job:
        """Create one job, raising its error if refused."""
        (result,) = await self.create(owner, [request])
        if isinstance(result, GatewayError):
            raise result
        return result

    async def get(self, owner: str, job_id: str) -> Job:
        """The owner's job; NOT_FOUND for a missing job and for someone else's."""
        job = await self._repository.get(job_id, owner)
        if job is None:
            raise NotFound("job", job_id)
        return job

    async def list_jobs(
        self, owner: str, conditions: ListFilter, page_size: int, page_token: str
    ) -> Page:
        """One page of the owner's jobs meeting ``conditions``, newest first."""
        if page_size < 0:
            raise InvalidArgument([FieldViolation("page_size", "must not be negative")])
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        scope = _filter_fingerprint(conditions)
        after = _decode_page_token(page_token, scope) if page_token else None
        jobs = await self._repository.list_page(owner, conditions, after, size + 1)
        if len(jobs) <= size:
            return Page(jobs, "")
        return Page(jobs[:size], _encode_page_token(cursor_of(jobs[size - 1]), scope))

    async def submit(self, owner: str, job_id: str) -> Job:
        """Queue a CREATED job; submitting a submitted job returns it unchanged.

        The job's uploads still in progress are cancelled: its inputs are final.
        """
        job = await self._submit(owner, job_id)
        await self._inputs_closed(owner, job_id)
        return job

    async def _submit(self, owner: str, job_id: str) -> Job:
        async with self._lock(job_id):
            job = await self.get(owner, job_id)
            if job.state is not JobState.CREATED:
                if job.submit_time is None:
                    raise FailedPrecondition(
                        f"job {job_id} was {job.state.value.lower()} before it was submitted",
                        reason="JOB_NOT_SUBMITTABLE",
                    )
                return job
            now = utc_now()
            queued = replace(
                job,
                state=JobState.QUEUED,
                reason=self._waiting_reason(job.spec),
                submit_time=now,
                update_time=now,
            )
            self._reserve(queued)
            try:
                (event,) = await self._writer.commit_many([Change(queued, JobState.CREATED)])
            except BaseException:
                self._accounts.release(queued.id, owner, 0)
                raise
            assert event is not None
            self._publish([event])
            await self._scheduler.admit([event.job])
            return event.job

    async def cancel(self, owner: str, job_id: str) -> Job:
        """Cancel a job; idempotent. A running job is signalled and ends CANCELLED later."""
        job = await self._cancel(owner, job_id)
        await self._inputs_closed(owner, job_id)
        return job

    async def _cancel(self, owner: str, job_id: str) -> Job:
        async with self._lock(job_id):
            job = await self.get(owner, job_id)
            if job.state.is_terminal:
                return job
            if job.state is JobState.CREATED:
                now = utc_now()
                cancelled = replace(
                    job,
                    state=JobState.CANCELLED,
                    reason=StateReason.CANCELLED_BY_USER,
                    end_time=now,
                    update_time=now,
                )
                (event,) = await self._writer.commit_many([Change(cancelled, JobState.CREATED)])
                assert event is not None
                self._publish([event])
                await self._scheduler.dependency_ended(job_id, JobState.CANCELLED)
                return event.job
            handled = await self._scheduler.cancel(job)
            return handled if handled is not None else await self.get(owner, job_id)

    async def watch(
        self, owner: str, job_ids: Sequence[str], after_sequence: int
    ) -> AsyncIterator[WatchItem]:
        """Snapshots then transitions (or, resuming, transitions after ``after_sequence``).

        With ``job_ids``, the stream ends once all of them are terminal and reported.
        """
        if len(job_ids) > MAX_WATCHED_JOBS:
            raise InvalidArgument(
                [FieldViolation("job_ids", f"at most {MAX_WATCHED_JOBS} jobs, got {len(job_ids)}")]
            )
        wanted = list(dict.fromkeys(job_ids))
        found = await self._repository.get_many(wanted, owner)
        for job_id in wanted:
            if job_id not in found:
                raise NotFound("job", job_id)
        if after_sequence > self._hub.last:
            raise OutOfRange(
                f"after_sequence {after_sequence} is beyond the latest event {self._hub.last}"
            )
        cursor = after_sequence
        if not after_sequence:
            # The cursor is read before the snapshot: a change in between is both in the
            # snapshot and replayed after it, never lost.
            cursor = await self._repository.last_sequence()
            if wanted:
                found = await self._repository.get_many(wanted, owner)
            snapshot = found if wanted else await self._unfinished_of(owner)
            for job in snapshot.values():
                yield Snapshot(job)
            yield SnapshotComplete(cursor)
        # A watched job is done for this stream once it is terminal and its last transition is
        # at or before the cursor (already seen by the client, or shown in the snapshot).
        unfinished = {
            job_id
            for job_id, job in found.items()
            if not job.state.is_terminal or job.state_sequence > cursor
        }
        while not wanted or unfinished:
            events = await self._repository.events_after(owner, cursor, wanted)
            for event in events:
                cursor = event.sequence
                if event.job.state.is_terminal:
                    unfinished.discard(event.job.id)
                yield event
            if not events:
                await self._hub.wait_beyond(cursor)

    async def read_logs(
        self, owner: str, job_id: str, stream: str, offset: int, follow: bool
    ) -> AsyncIterator[tuple[int, bytes]]:
        """(offset, bytes) chunks of the job's stdout or stderr from ``offset``."""
        if offset < 0:
            raise InvalidArgument([FieldViolation("offset", "must not be negative")])
        job = await self.get(owner, job_id)
        path = self._workspace.log(job_id, stream)
        size = await asyncio.to_thread(_size, path)
        if offset > size and job.state.is_terminal:
            raise OutOfRange(
                f"offset {offset} is beyond the end of the {stream} log ({size} bytes)"
            )
        while True:
            chunk = await asyncio.to_thread(_read_chunk, path, offset, LOG_CHUNK_BYTES)
            if chunk:
                yield offset, chunk
                offset += len(chunk)
                continue
            if not follow or job.state.is_terminal:
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(LOG_POLL_SECONDS):
                    await self._hub.wait_beyond(self._hub.last)
            job = await self.get(owner, job_id)

    def _new_job(self, owner: str, spec: JobSpec, request: CreateRequest) -> Job:
        moment = utc_now()
        submitted = request.submit
        return Job(
            id=new_job_id(),
            owner=owner,
            spec=spec,
            state=JobState.QUEUED if submitted else JobState.CREATED,
            reason=self._waiting_reason(spec) if submitted else StateReason.NONE,
            create_time=moment,
            update_time=moment,
            submit_time=moment if submitted else None,
            request_id=request.request_id,
        )

    def _waiting_reason(self, spec: JobSpec) -> StateReason:
        if spec.job_dependencies:
            return StateReason.WAITING_FOR_DEPENDENCIES
        if spec.dataset_dependencies:
            return StateReason.WAITING_FOR_DATASET
        if self.capabilities.queues_itself:
            return StateReason.WAITING_FOR_SCHEDULER
        return StateReason.WAITING_FOR_CAPACITY

    async def _check_dependencies(
        self,
        owner: str,
        specs: Mapping[int, JobSpec],
        violations: Mapping[int, list[FieldViolation]],
    ) -> None:
        wanted = sorted({d for spec in specs.values() for d in spec.job_dependencies})
        existing = await self._repository.get_many(wanted, owner)
        names = sorted({d for spec in specs.values() for d in spec.dataset_dependencies})
        datasets = (
            await self._datasets.dataset_states(owner, names) if names and self._datasets else {}
        )
        for index, spec in specs.items():
            for position, name in enumerate(spec.dependencies):
                path = f"spec.dependencies[{position}]"
                if name in spec.job_dependencies:
                    if name not in existing:
                        violations[index].append(FieldViolation(path, f"job {name} not found"))
                elif name not in datasets:
                    violations[index].append(FieldViolation(path, f"dataset {name!r} not found"))

    def observe(self, observer: Callable[[Sequence[JobEvent]], None]) -> None:
        """Hand every batch of committed job events to ``observer`` too (the audit log)."""
        self._observers.append(observer)

    def use_datasets(self, datasets: DatasetGate) -> None:
        """Let jobs depend on datasets and take inputs from uploads (call before start)."""
        self._datasets = datasets
        self._scheduler.datasets = datasets

    async def job_view(self, owner: str, job_id: str) -> JobView:
        """What the data domain needs to know of the owner's job; NOT_FOUND if none."""
        job = await self.get(owner, job_id)
        return JobView(job.id, job.state.is_terminal, job.spec.dataset_dependencies)

    @asynccontextmanager
    async def accepting_inputs(self, owner: str, job_id: str) -> AsyncIterator[None]:
        """Hold the owner's job in CREATED for the block; FAILED_PRECONDITION if it is not."""
        async with self._lock(job_id):
            job = await self.get(owner, job_id)
            if job.state is not JobState.CREATED:
                raise FailedPrecondition(
                    f"job {job_id} is {job.state.value.lower()}; inputs are uploaded only "
                    "before it is submitted",
                    reason="JOB_NOT_CREATED",
                )
            yield

    async def dataset_sealed(self, owner: str, name: str) -> None:
        """Jobs waiting for the owner's dataset may run once their other dependencies allow."""
        self._scheduler.dataset_sealed(owner, name)

    async def jobs_needing_dataset(self, owner: str, name: str) -> list[str]:
        """Ids of the owner's jobs that are not terminal and depend on the dataset."""
        jobs = await self._repository.unfinished()
        return [
            job.id for job in jobs if job.owner == owner and name in job.spec.dataset_dependencies
        ]

    def input_dir(self, job_id: str) -> Path:
        """Where the job's finished input files are."""
        return self._workspace.inputs(job_id)

    def output_dir(self, job_id: str) -> Path:
        """The job's working directory, where it writes its outputs."""
        return self._workspace.workdir(job_id)

    async def _inputs_closed(self, owner: str, job_id: str) -> None:
        # Outside the job's lock: a finishing upload holds its own lock and then the job's.
        if self._datasets is not None:
            await self._datasets.job_submitted(owner, job_id)

    async def _unfinished_of(self, owner: str) -> dict[str, Job]:
        jobs = await self._repository.unfinished()
        return {job.id: job for job in jobs if job.owner == owner}

    def _publish(self, events: Sequence[JobEvent | None]) -> None:
        numbers = []
        for event in events:
            if event is None:
                continue
            numbers.append(event.sequence)
            job = event.job
            if job.state.is_terminal:
                self._accounts.release(job.id, job.owner, job.cost.minor_units if job.cost else 0)
        if numbers:
            self._hub.announce(max(numbers))
            for observer in self._observers:
                observer([event for event in events if event is not None])

    def _forget_later(
        self, answered: Mapping[tuple[str, str], asyncio.Future[tuple[Job, str]]]
    ) -> None:
        # A concurrent create with the same request id may have read the database just before
        # this commit; it finds the answer here instead of creating the job a second time.
        if not answered:
            return

        def forget() -> None:
            for key, done in answered.items():
                if self._in_flight.get(key) is done:
                    del self._in_flight[key]

        asyncio.get_running_loop().call_later(REQUEST_MEMORY_SECONDS, forget)

    async def _find_requests(self, keys: list[tuple[str, str]]) -> list[tuple[Job, str] | None]:
        by_owner: dict[str, list[str]] = {}
        for owner, request_id in keys:
            by_owner.setdefault(owner, []).append(request_id)
        found: dict[tuple[str, str], tuple[Job, str]] = {}
        for owner, request_ids in by_owner.items():
            hits = await self._repository.find_requests(owner, sorted(set(request_ids)))
            found.update({(owner, rid): hit for rid, hit in hits.items()})
        return [found.get(key) for key in keys]

    def _reserve(self, job: Job) -> None:
        self._accounts.reserve(job.id, job.owner, job.spec.resources, job.spec.timeout_seconds)

    def _bill(self, job: Job, wall_seconds: float) -> Charge | None:
        assert job.end_time is not None
        return self._accounts.charge(
            job.id,
            job.owner,
            job.spec.job_name,
            job.spec.resources,
            job.start_time,
            job.end_time,
            wall_seconds,
        )

    async def _write(self, tx: Transaction, changes: list[Change]) -> list[JobEvent | None]:
        events = await self._repository.write(tx, changes)
        await self._accounts.record_charges(
            tx, [change.charge for change in changes if change.charge is not None]
        )
        return events

    @asynccontextmanager
    async def _lock(self, job_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(job_id, asyncio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and not getattr(lock, "_waiters", None):
                self._locks.pop(job_id, None)


def _same_request(earlier: Job, earlier_fingerprint: str, fingerprint: str) -> Job | GatewayError:
    if earlier_fingerprint == fingerprint:
        return earlier
    error = AlreadyExists(
        "job",
        earlier.id,
        f"request_id {earlier.request_id!r} was already used for job {earlier.id} "
        "with a different request",
    )
    error.reason = "REQUEST_ID_REUSED"
    return error


def _as_gateway_error(error: Exception) -> GatewayError:
    if isinstance(error, GatewayError):
        return error
    return GatewayError(f"creating the job failed: {error}")


def _fingerprint(spec_text: str, submit: bool) -> str:
    return hashlib.sha256(f"{int(submit)}{spec_text}".encode()).hexdigest()


def _filter_fingerprint(conditions: ListFilter) -> str:
    text = json.dumps(
        [
            sorted(s.value for s in conditions.states),
            conditions.name_prefix,
            sorted(conditions.labels.items()),
            conditions.created_after.isoformat() if conditions.created_after else None,
            conditions.created_before.isoformat() if conditions.created_before else None,
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _encode_page_token(cursor: ListCursor, scope: str) -> str:
    raw = json.dumps([cursor.create_time, cursor.job_id, scope], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_page_token(token: str, scope: str) -> ListCursor:
    def bad(description: str) -> InvalidArgument:
        return InvalidArgument([FieldViolation("page_token", description)])

    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        create_time, job_id, token_scope = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise bad("is not a page token this API returned") from None
    if token_scope != scope:
        raise bad("belongs to a listing with other filters; pass the same filters")
    if not isinstance(create_time, int) or not isinstance(job_id, str):
        raise bad("is not a page token this API returned")
    return ListCursor(create_time, job_id)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _read_chunk(path: Path, offset: int, limit: int) -> bytes:
    try:
        with path.open("rb") as file:
            file.seek(offset)
            return file.read(limit)
    except FileNotFoundError:
        return b""
