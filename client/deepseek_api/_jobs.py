"""JobService requests from the clients' arguments, and results from its responses.

Shared by both clients, so each of their job methods is one call through ``_calls``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

from deepseek.hpc.v1 import job_pb2
from deepseek_api import _protos
from deepseek_api._errors import APIException
from deepseek_api._specs import JobSpecLike, job_spec
from deepseek_api._status import from_status

_J = TypeVar("_J")

MAX_BATCH_SIZE = 1000


def new_request_id() -> str:
    """A fresh idempotency key (a UUID 4)."""
    return str(uuid.uuid4())


def create_job_request(
    spec: JobSpecLike, *, submit: bool, request_id: str | None
) -> job_pb2.CreateJobRequest:
    """A ``CreateJobRequest``, with a new request id unless one is given."""
    return job_pb2.CreateJobRequest(
        spec=job_spec(spec),
        submit=submit,
        request_id=new_request_id() if request_id is None else request_id,
    )


def batch_create_jobs_request(
    specs: Sequence[JobSpecLike], *, submit: bool, request_ids: Sequence[str] | None
) -> job_pb2.BatchCreateJobsRequest:
    """A ``BatchCreateJobsRequest`` of one item per spec.

    Raises:
        ValueError: for more than 1,000 specs, ``request_ids`` of another length than
            ``specs``, or a malformed spec (the message gives its index).
    """
    if len(specs) > MAX_BATCH_SIZE:
        raise ValueError(f"at most {MAX_BATCH_SIZE} jobs per batch, not {len(specs)}")
    if request_ids is not None and len(request_ids) != len(specs):
        raise ValueError(
            f"{len(request_ids)} request_ids for {len(specs)} specs; give one per spec"
        )
    items = []
    for index, spec in enumerate(specs):
        try:
            items.append(
                create_job_request(
                    spec,
                    submit=submit,
                    request_id=None if request_ids is None else request_ids[index],
                )
            )
        except ValueError as err:
            raise ValueError(f"specs[{index}]: {err}") from err
    return job_pb2.BatchCreateJobsRequest(requests=items)


def batch_results(
    response: job_pb2.BatchCreateJobsResponse, wrap: Callable[[job_pb2.Job], _J]
) -> list[_J | APIException]:
    """One job or exception per item, in request order."""
    return [
        wrap(result.job) if result.HasField("job") else from_status(result.error)
        for result in response.results
    ]


def list_jobs_request(
    *,
    states: Iterable[str] | None,
    name_prefix: str | None,
    labels: Mapping[str, str] | None,
    created_after: datetime | None,
    created_before: datetime | None,
    page_size: int,
) -> job_pb2.ListJobsRequest:
    """The first page's ``ListJobsRequest``.

    Raises:
        ValueError: for an unknown state name or a naive datetime.
    """
    if isinstance(states, str):
        states = [states]
    request = job_pb2.ListJobsRequest(
        page_size=page_size,
        states=[
            job_pb2.JobState.ValueType(
                _protos.enum_number(job_pb2.JobState.DESCRIPTOR, state, "JOB_STATE_", "states")
            )
            for state in states or ()
        ],
        name_prefix=name_prefix or "",
        labels=labels or {},
    )
    if created_after is not None:
        request.create_time_after.CopyFrom(_protos.timestamp_of(created_after, "created_after"))
    if created_before is not None:
        request.create_time_before.CopyFrom(_protos.timestamp_of(created_before, "created_before"))
    return request


def next_page_request(
    request: job_pb2.ListJobsRequest, response: job_pb2.ListJobsResponse
) -> job_pb2.ListJobsRequest | None:
    """The request of the page after ``response``, or None if it was the last."""
    if not response.next_page_token:
        return None
    following = job_pb2.ListJobsRequest()
    following.CopyFrom(request)
    following.page_token = response.next_page_token
    return following


def read_logs_request(
    job_id: str, stream: str, *, offset: int, follow: bool
) -> job_pb2.ReadJobLogsRequest:
    """A ``ReadJobLogsRequest``.

    Raises:
        ValueError: if ``stream`` is neither ``"stdout"`` nor ``"stderr"``.
    """
    return job_pb2.ReadJobLogsRequest(
        id=job_id,
        stream=job_pb2.LogStream.ValueType(
            _protos.enum_number(job_pb2.LogStream.DESCRIPTOR, stream, "LOG_STREAM_", "stream")
        ),
        offset=offset,
        follow=follow,
    )
