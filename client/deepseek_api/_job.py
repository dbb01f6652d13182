"""The SDK's view of a compute job, bound to the client that fetched it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, Self

from deepseek.hpc.v1 import common_pb2, job_pb2
from deepseek_api import _protos

if TYPE_CHECKING:
    from deepseek_api._async_client import AsyncDeepSeekClient
    from deepseek_api._client import DeepSeekClient

LogStreamName = Literal["stdout", "stderr"]

_TERMINAL_STATES = frozenset(
    {job_pb2.JOB_STATE_COMPLETED, job_pb2.JOB_STATE_FAILED, job_pb2.JOB_STATE_CANCELLED}
)


def state_name(state: int) -> str:
    """A ``JobState`` as the platform guide writes it: ``"QUEUED"``, ``"COMPLETED"``, ..."""
    return _protos.enum_name(job_pb2.JobState.DESCRIPTOR, state, "JOB_STATE_")


def is_terminal(job: job_pb2.Job) -> bool:
    """Whether the job is COMPLETED, FAILED or CANCELLED (its state can no longer change)."""
    return job.state in _TERMINAL_STATES


@dataclass(frozen=True, slots=True)
class ResourceUsage:
    """Resources a job consumed, as the executor measured them.

    Attributes:
        wall_time: Time from start to end (or to now while running).
        cpu_time: CPU time (user + system) summed over every process on every node.
        peak_memory_bytes: Highest resident memory on any one node; None when the
            executor does not measure it.
    """

    wall_time: timedelta
    cpu_time: timedelta
    peak_memory_bytes: int | None

    @classmethod
    def from_proto(cls, usage: common_pb2.ResourceUsage) -> ResourceUsage:
        """Read a ``deepseek.hpc.v1.ResourceUsage``."""
        return cls(
            wall_time=_protos.timedelta_of(usage.wall_time),
            cpu_time=_protos.timedelta_of(usage.cpu_time),
            peak_memory_bytes=usage.peak_memory_bytes or None,
        )


@dataclass(frozen=True, slots=True)
class Amount:
    """An amount of money, never floating point.

    Attributes:
        currency_code: ISO 4217 code, e.g. ``"CNY"``.
        minor_units: The amount in the currency's minor units: 1234 with ``"CNY"`` is
            12.34 yuan.
    """

    currency_code: str
    minor_units: int

    @classmethod
    def from_proto(cls, amount: common_pb2.Amount) -> Amount:
        """Read a ``deepseek.hpc.v1.Amount``."""
        return cls(amount.currency_code, amount.minor_units)


class _JobView:
    """The read-only properties shared by :class:`Job` and :class:`AsyncJob`."""

    __slots__ = ("_proto",)

    def __init__(self, proto: job_pb2.Job) -> None:
        self._proto = proto

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, name={self.name!r}, status={self.status!r})"

    @property
    def proto(self) -> job_pb2.Job:
        """The ``deepseek.hpc.v1.Job`` message as last received. Treat it as read-only."""
        return self._proto

    @property
    def id(self) -> str:
        """The job's id, ``"job-"`` followed by lowercase letters and digits."""
        return self._proto.id

    @property
    def name(self) -> str:
        """The spec's ``job_name``."""
        return self._proto.spec.job_name

    @property
    def status(self) -> str:
        """The lifecycle state: ``"CREATED"``, ``"QUEUED"``, ``"RUNNING"``, ``"COMPLETED"``,
        ``"FAILED"`` or ``"CANCELLED"``."""
        return state_name(self._proto.state)

    @property
    def state_reason(self) -> str | None:
        """Why the job is in its state, e.g. ``"TIMEOUT"``, ``"NON_ZERO_EXIT"``,
        ``"WAITING_FOR_CAPACITY"``; None when there is no particular reason."""
        return _protos.enum_name_or_none(
            job_pb2.JobStateReason.DESCRIPTOR, self._proto.state_reason, "JOB_STATE_REASON_"
        )

    @property
    def state_message(self) -> str:
        """Human-readable detail on the state, for display (not for parsing)."""
        return self._proto.state_message

    @property
    def exit_code(self) -> int | None:
        """The command's exit status once it has exited; None before, or when unknown."""
        return self._proto.exit_code if self._proto.HasField("exit_code") else None

    @property
    def owner(self) -> str:
        """User id of the job's owner."""
        return self._proto.owner

    @property
    def request_id(self) -> str | None:
        """The idempotency key the job was created with; None if it had none."""
        return self._proto.request_id or None

    @property
    def spec(self) -> job_pb2.JobSpec:
        """What runs: the spec as created, with the server's defaults filled in."""
        return self._proto.spec

    @property
    def create_time(self) -> datetime | None:
        """When the job was created (UTC)."""
        return _protos.datetime_field(self._proto, "create_time")

    @property
    def submit_time(self) -> datetime | None:
        """When the job was submitted (became QUEUED); None before (UTC)."""
        return _protos.datetime_field(self._proto, "submit_time")

    @property
    def start_time(self) -> datetime | None:
        """When the job started RUNNING; None before (UTC)."""
        return _protos.datetime_field(self._proto, "start_time")

    @property
    def end_time(self) -> datetime | None:
        """When the job reached a terminal state; None before (UTC)."""
        return _protos.datetime_field(self._proto, "end_time")

    @property
    def update_time(self) -> datetime | None:
        """When anything about the job last changed (UTC)."""
        return _protos.datetime_field(self._proto, "update_time")

    @property
    def usage(self) -> ResourceUsage | None:
        """Measured resource usage; None until the job starts."""
        if not self._proto.HasField("usage"):
            return None
        return ResourceUsage.from_proto(self._proto.usage)

    @property
    def cost(self) -> Amount | None:
        """Cost so far, final once the job is terminal; None until the job starts."""
        return Amount.from_proto(self._proto.cost) if self._proto.HasField("cost") else None

    @property
    def metrics(self) -> dict[str, float]:
        """The metrics the job reported (a copy), by name."""
        return dict(self._proto.metrics)

    @property
    def executor(self) -> str:
        """The executor running the job, e.g. ``"local"`` or ``"slurm"``."""
        return self._proto.executor

    @property
    def executor_job_id(self) -> str | None:
        """The executor's own id of the job; None until it was handed to the executor."""
        return self._proto.executor_job_id or None

    @property
    def is_done(self) -> bool:
        """Whether the job is COMPLETED, FAILED or CANCELLED, so its state is final."""
        return is_terminal(self._proto)

    def _take(self, other: _JobView) -> Self:
        self._proto = other._proto
        return self


class Job(_JobView):
    """A compute job, as returned by :class:`DeepSeekClient`.

    The properties show the job as last received; :meth:`refresh`, :meth:`submit`,
    :meth:`cancel` and :meth:`wait` update them in place (and return the job itself)::

        job = client.create_job(spec)
        job.submit()
        job.wait()
        if job.status == "COMPLETED":
            print(job.metrics)
    """

    __slots__ = ("_client",)

    def __init__(self, proto: job_pb2.Job, client: DeepSeekClient) -> None:
        super().__init__(proto)
        self._client = client

    def refresh(self) -> Self:
        """Fetch the job's current state from the server (see :meth:`DeepSeekClient.get_job`)."""
        return self._take(self._client.get_job(self.id))

    def submit(self) -> Self:
        """Submit the CREATED job so it runs (see :meth:`DeepSeekClient.submit_job`)."""
        return self._take(self._client.submit_job(self.id))

    def cancel(self) -> Self:
        """Cancel the job (see :meth:`DeepSeekClient.cancel_job`); a RUNNING job may still
        show RUNNING until the executor confirms it stopped: :meth:`wait` for that."""
        return self._take(self._client.cancel_job(self.id))

    def wait(self, timeout: float | None = None) -> Self:
        """Block until the job is COMPLETED, FAILED or CANCELLED, and return it.

        Follows the job's state changes as the server announces them (a WatchJobs
        stream, resumed across server restarts), without polling. A job already done
        is returned at once: its state can no longer change.

        Args:
            timeout: Seconds to wait at most; None waits as long as it takes.

        Raises:
            TimeoutError: if the job is not done when ``timeout`` passes.
            APIException: if watching fails (NotFound if the job does not exist).
        """
        if self.is_done:
            return self
        return self._take(self._client._wait_for_job(self.id, timeout))

    def logs(
        self, stream: LogStreamName = "stdout", *, offset: int = 0, follow: bool = False
    ) -> Iterator[bytes]:
        """The job's output (see :meth:`DeepSeekClient.read_logs`)."""
        return self._client.read_logs(self.id, stream, offset=offset, follow=follow)


class AsyncJob(_JobView):
    """A compute job, as returned by :class:`AsyncDeepSeekClient`.

    The properties of :class:`Job`; its methods are coroutines
    (``await job.refresh()``) and :meth:`logs` is an async iterator.
    """

    __slots__ = ("_client",)

    def __init__(self, proto: job_pb2.Job, client: AsyncDeepSeekClient) -> None:
        super().__init__(proto)
        self._client = client

    async def refresh(self) -> Self:
        """Fetch the job's current state from the server (see :meth:`Job.refresh`)."""
        return self._take(await self._client.get_job(self.id))

    async def submit(self) -> Self:
        """Submit the CREATED job so it runs (see :meth:`Job.submit`)."""
        return self._take(await self._client.submit_job(self.id))

    async def cancel(self) -> Self:
        """Cancel the job (see :meth:`Job.cancel`)."""
        return self._take(await self._client.cancel_job(self.id))

    async def wait(self, timeout: float | None = None) -> Self:  # noqa: ASYNC109
        """Wait until the job is COMPLETED, FAILED or CANCELLED (see :meth:`Job.wait`).

        Raises:
            TimeoutError: if the job is not done when ``timeout`` passes.
        """
        if self.is_done:
            return self
        return self._take(await self._client._wait_for_job(self.id, timeout))

    def logs(
        self, stream: LogStreamName = "stdout", *, offset: int = 0, follow: bool = False
    ) -> AsyncIterator[bytes]:
        """The job's output (see :meth:`DeepSeekClient.read_logs`)."""
        return self._client.read_logs(self.id, stream, offset=offset, follow=follow)
