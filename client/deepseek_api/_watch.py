"""Watching jobs: the events, and resuming a WatchJobs stream the server broke off."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from deepseek.hpc.v1 import job_pb2
from deepseek_api import _protos
from deepseek_api._errors import APIException, Unavailable
from deepseek_api._job import state_name

_J = TypeVar("_J")

_RESUMABLE_EVENT_TYPES = frozenset(
    {job_pb2.JOB_EVENT_TYPE_SNAPSHOT_COMPLETE, job_pb2.JOB_EVENT_TYPE_TRANSITION}
)


@dataclass(frozen=True, slots=True)
class JobEvent(Generic[_J]):
    """One event of :meth:`DeepSeekClient.watch_jobs`.

    Attributes:
        sequence: Position in the gateway-wide, increasing sequence of state transitions.
        type: ``"SNAPSHOT"`` (a job's state when the watch began), ``"SNAPSHOT_COMPLETE"``
            (the end of the snapshot; carries no job) or ``"TRANSITION"`` (a job changed
            state).
        job: The job as of this event (its status is the new state); None for
            ``"SNAPSHOT_COMPLETE"``. A :class:`Job`, or an :class:`AsyncJob` from the
            async client.
        previous_state: For ``"TRANSITION"``, the state the job left (e.g. ``"RUNNING"``);
            None otherwise.
        time: When the transition happened (for a snapshot, when the job entered its
            state), UTC; None when the server did not say (``"SNAPSHOT_COMPLETE"``).
        proto: The ``deepseek.hpc.v1.JobEvent`` message.
    """

    sequence: int
    type: str
    job: _J | None
    previous_state: str | None
    time: datetime | None
    proto: job_pb2.JobEvent = field(repr=False, compare=False)

    @classmethod
    def from_proto(cls, event: job_pb2.JobEvent, wrap: Callable[[job_pb2.Job], _J]) -> JobEvent[_J]:
        """Read an event, making its job with ``wrap`` (which binds it to a client)."""
        return cls(
            sequence=event.sequence,
            type=_protos.enum_name(job_pb2.JobEventType.DESCRIPTOR, event.type, "JOB_EVENT_TYPE_"),
            job=wrap(event.job) if event.HasField("job") else None,
            previous_state=state_name(event.previous_state) if event.previous_state else None,
            time=_protos.datetime_field(event, "event_time"),
            proto=event,
        )


@dataclass(frozen=True, slots=True)
class Backoff:
    """How a broken watch stream is reconnected: exponential delays with jitter.

    Attributes:
        initial: Seconds before the first reconnect.
        multiplier: Factor by which each further delay grows.
        maximum: Longest delay, in seconds.
        attempts: Failed reconnects in a row after which the error is raised. A
            reconnect that delivers an event resets the count.
    """

    initial: float = 0.2
    multiplier: float = 2.0
    maximum: float = 10.0
    attempts: int = 5


DEFAULT_BACKOFF = Backoff()


def watch_request(job_ids: Iterable[str] | None, after_sequence: int) -> job_pb2.WatchJobsRequest:
    """A ``WatchJobsRequest``; a single id given as a string is one job, not characters."""
    if isinstance(job_ids, str):
        job_ids = [job_ids]
    return job_pb2.WatchJobsRequest(job_ids=job_ids or (), after_sequence=after_sequence)


class Resumption:
    """Where a watch stands, so that a stream broken by UNAVAILABLE resumes where it was.

    Resuming is only sound from the sequence of a SNAPSHOT_COMPLETE or TRANSITION event:
    a stream broken during its snapshot starts over with a new snapshot, so snapshot
    events may repeat then, and transitions never do.
    """

    def __init__(
        self, request: job_pb2.WatchJobsRequest, backoff: Backoff, deadline: float | None
    ) -> None:
        self._request = request
        self._backoff = backoff
        self._deadline = deadline
        self._failures = 0

    def request(self) -> job_pb2.WatchJobsRequest:
        """The request to (re)open the stream with."""
        return self._request

    def timeout(self) -> float | None:
        """The stream's gRPC deadline, in seconds from now; None for no deadline."""
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - time.monotonic())

    def received(self, event: job_pb2.JobEvent) -> None:
        """Note an event: the stream works, and may have moved the resume point."""
        self._failures = 0
        if event.type in _RESUMABLE_EVENT_TYPES:
            self._request.after_sequence = event.sequence

    def delay_after(self, error: APIException) -> float:
        """Seconds to wait before reconnecting after ``error``.

        Raises:
            APIException: ``error`` itself, unless it is ``Unavailable`` (the server is
                restarting or unreachable) and there are reconnects left.
        """
        self._failures += 1
        if not isinstance(error, Unavailable) or self._failures > self._backoff.attempts:
            raise error
        delay = min(
            self._backoff.maximum,
            self._backoff.initial * self._backoff.multiplier ** (self._failures - 1),
        )
        # Jitter spreads the reconnects of many watchers after one server restart.
        delay *= random.uniform(0.5, 1.0)
        timeout = self.timeout()
        return delay if timeout is None else min(delay, timeout)


def deadline_after(timeout: float | None) -> float | None:
    """The ``time.monotonic()`` instant ``timeout`` seconds from now; None for no limit."""
    return None if timeout is None else time.monotonic() + timeout
