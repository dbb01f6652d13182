"""WatchJobs and ReadJobLogs: snapshots, transitions, resuming, following."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import grpc
import grpc.aio
import pytest

import deepseek_api as ds
from deepseek.hpc.v1 import job_pb2, job_pb2_grpc
from deepseek_server.app import Gateway
from deepseek_server.config import Settings
from tests.support import spec


async def test_watch_sends_snapshots_then_every_transition_in_order(
    client: ds.AsyncDeepSeekClient, tmp_path: Path
) -> None:
    existing = await client.create_job(spec("true"))
    events = client.watch_jobs()
    snapshot = [await anext(events), await anext(events)]
    job = await client.create_job(spec("echo hi"), submit=True)
    transitions = []
    async for event in events:
        transitions.append(event)
        if event.job is not None and event.job.status == "COMPLETED":
            break
    await events.aclose()

    assert [e.type for e in snapshot] == ["SNAPSHOT", "SNAPSHOT_COMPLETE"]
    assert snapshot[0].job is not None
    assert snapshot[0].job.id == existing.id
    assert [(e.type, e.previous_state, e.job.status if e.job else None) for e in transitions] == [
        ("TRANSITION", None, "QUEUED"),
        ("TRANSITION", "QUEUED", "RUNNING"),
        ("TRANSITION", "RUNNING", "COMPLETED"),
    ]
    assert all(e.job is not None and e.job.id == job.id for e in transitions)
    sequences = [e.sequence for e in transitions]
    assert sequences == sorted(sequences)
    assert sequences[0] > snapshot[1].sequence


async def test_a_watcher_that_reconnects_with_its_last_sequence_misses_nothing(
    client: ds.AsyncDeepSeekClient, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    job = await client.create_job(spec(f"while [ ! -e {gate} ]; do sleep 0.05; done"), submit=True)
    events = client.watch_jobs([job.id])
    seen = [await anext(events), await anext(events)]
    last = seen[-1].sequence
    await events.aclose()  # the watcher goes away; the job moves on without it

    gate.touch()
    await job.wait(timeout=30)
    missed = [event async for event in client.watch_jobs([job.id], after_sequence=last)]

    assert [e.type for e in seen] == ["SNAPSHOT", "SNAPSHOT_COMPLETE"]
    assert {e.type for e in missed} == {"TRANSITION"}
    assert missed[-1].job is not None
    assert missed[-1].job.status == "COMPLETED"
    assert all(e.sequence > last for e in missed)


async def test_watching_named_jobs_ends_when_they_are_all_terminal(
    client: ds.AsyncDeepSeekClient,
) -> None:
    jobs = [await client.create_job(spec(f"exit {code}"), submit=True) for code in (0, 1)]

    events = [event async for event in client.watch_jobs([job.id for job in jobs])]

    final = {e.job.id: e.job.status for e in events if e.job is not None}
    assert final == {jobs[0].id: "COMPLETED", jobs[1].id: "FAILED"}


async def test_watching_an_unknown_job_is_not_found(client: ds.AsyncDeepSeekClient) -> None:
    with pytest.raises(ds.NotFound):
        _ = [event async for event in client.watch_jobs(["job-nosuchjob"])]


async def test_logs_follow_streams_output_as_it_is_written_until_the_job_ends(
    client: ds.AsyncDeepSeekClient,
) -> None:
    job = await client.create_job(
        spec("for i in 1 2 3 4 5; do echo line $i; sleep 0.1; done"), submit=True
    )

    chunks = [chunk async for chunk in client.read_logs(job.id, follow=True)]
    await job.refresh()

    assert b"".join(chunks) == b"".join(f"line {i}\n".encode() for i in range(1, 6))
    assert len(chunks) > 1  # delivered while running, not in one piece at the end
    assert job.status == "COMPLETED"


async def test_logs_resume_from_a_byte_offset(client: ds.AsyncDeepSeekClient) -> None:
    job = await client.create_job(spec("printf 'abcdefghij'"), submit=True)
    await job.wait(timeout=30)

    tail = b"".join([chunk async for chunk in client.read_logs(job.id, offset=4)])
    with pytest.raises(ds.OutOfRange):
        _ = [chunk async for chunk in client.read_logs(job.id, offset=11)]

    assert tail == b"efghij"


async def test_shutdown_ends_watch_streams_with_unavailable_so_clients_resume(
    settings_for: Callable[..., Settings],
) -> None:
    gateway = Gateway(settings_for())
    await gateway.start()
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        call = job_pb2_grpc.JobServiceStub(channel).WatchJobs(job_pb2.WatchJobsRequest())
        first = await call.read()
        assert isinstance(first, job_pb2.WatchJobsResponse)
        assert first.event.type == job_pb2.JOB_EVENT_TYPE_SNAPSHOT_COMPLETE
        await gateway.stop(grace=5)
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            await call.read()

    assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "resume" in (ended.value.details() or "")
