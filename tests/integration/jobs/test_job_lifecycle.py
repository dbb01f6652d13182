"""Jobs end to end on each executor (local and Slurm), through the SDK and the real server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import deepseek_api as ds
from deepseek_server.app import Gateway
from tests.support import alive, pids_in, spec


async def test_a_job_runs_to_completion_with_its_output_environment_and_usage(
    client: ds.AsyncDeepSeekClient, gateway: Gateway
) -> None:
    command = 'echo "hello $GREETING from $DEEPSEEK_JOB_ID in $(pwd)"; echo oops >&2'
    job = await client.create_job(spec(command, environment={"GREETING": "world"}))
    assert job.status == "CREATED"

    await job.submit()
    assert job.status in ("QUEUED", "RUNNING", "COMPLETED")
    await job.wait(timeout=30)

    workdir = gateway.settings.storage.jobs_dir.absolute() / job.id / "work"
    stdout = b"".join([chunk async for chunk in client.read_logs(job.id)])
    stderr = b"".join([chunk async for chunk in client.read_logs(job.id, "stderr")])
    assert (job.status, job.exit_code, job.state_reason) == ("COMPLETED", 0, None)
    assert stdout == f"hello world from {job.id} in {workdir}\n".encode()
    assert stderr == b"oops\n"
    assert job.start_time is not None
    assert job.end_time is not None
    assert job.submit_time is not None
    assert job.submit_time <= job.start_time <= job.end_time
    assert job.usage is not None
    if gateway.executor.name == "local":
        assert job.usage.wall_time.total_seconds() > 0  # Slurm measures whole seconds
    assert job.executor == gateway.executor.name
    assert job.spec.timeout == 7200


async def test_a_non_zero_exit_fails_the_job_with_its_code(
    client: ds.AsyncDeepSeekClient,
) -> None:
    job = await client.create_job(spec("echo partial; exit 3"), submit=True)
    await job.wait(timeout=30)

    assert (job.status, job.state_reason, job.exit_code) == ("FAILED", "NON_ZERO_EXIT", 3)


async def test_a_command_that_cannot_start_is_a_failed_job_not_a_crash(
    client: ds.AsyncDeepSeekClient,
) -> None:
    job = await client.create_job(spec("/no/such/program --flag"), submit=True)
    await job.wait(timeout=30)

    assert (job.status, job.state_reason) == ("FAILED", "LAUNCH_FAILED")
    assert await client.check_health() == "SERVING"


async def test_a_job_past_its_timeout_is_stopped_and_fails_with_reason_timeout(
    client: ds.AsyncDeepSeekClient,
) -> None:
    job = await client.create_job(spec("sleep 60", timeout=1), submit=True)
    await job.wait(timeout=30)

    assert (job.status, job.state_reason) == ("FAILED", "TIMEOUT")
    assert job.start_time is not None
    assert job.end_time is not None
    assert 1.0 <= (job.end_time - job.start_time).total_seconds() < 5


async def test_cancelling_a_queued_job_means_it_never_starts(
    client: ds.AsyncDeepSeekClient, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    (partition,) = (await client.get_capabilities()).partitions
    whole_partition = {"nodes": partition.max_nodes, "cpus_per_node": partition.cpus_per_node}
    # The whole partition, running: the next job has to wait (for capacity, or in Slurm).
    blocker = await client.create_job(
        {**spec(f"while [ ! -e {gate} ]; do sleep 0.05; done"), "resource_spec": whole_partition},
        submit=True,
    )
    await _until(lambda: blocker.status == "RUNNING", blocker)
    waiting = await client.create_job(spec(f"touch {tmp_path}/ran"), submit=True)
    await waiting.refresh()
    assert waiting.status == "QUEUED"

    cancelled = await client.cancel_job(waiting.id)
    gate.touch()
    await blocker.wait(timeout=30)

    assert (cancelled.status, cancelled.state_reason) == ("CANCELLED", "CANCELLED_BY_USER")
    await waiting.refresh()
    assert waiting.start_time is None
    assert not (tmp_path / "ran").exists()
    assert (await client.cancel_job(waiting.id)).status == "CANCELLED"  # idempotent


async def test_cancelling_a_running_job_ends_its_whole_process_tree(
    client: ds.AsyncDeepSeekClient, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    command = (
        f"sleep 300 & echo $! >> {pids}; setsid sleep 300 & echo $! >> {pids}; "
        f"echo $$ >> {pids}; wait"
    )
    job = await client.create_job(spec(command), submit=True)
    await _until(lambda: pids.exists() and len(pids_in(pids)) == 3, job)

    await job.cancel()
    await job.wait(timeout=30)

    assert (job.status, job.state_reason) == ("CANCELLED", "CANCELLED_BY_USER")
    assert [pid for pid in pids_in(pids) if alive(pid)] == []


async def test_a_dependency_chain_runs_in_order(client: ds.AsyncDeepSeekClient) -> None:
    first = await client.create_job(spec("sleep 0.2"), submit=True)
    second = await client.create_job(spec("true", dependencies=[first.id]), submit=True)
    third = await client.create_job(spec("true", dependencies=[second.id]), submit=True)
    assert third.state_reason == "WAITING_FOR_DEPENDENCIES"

    for job in (first, second, third):
        await job.wait(timeout=30)

    assert [j.status for j in (first, second, third)] == ["COMPLETED"] * 3
    assert first.end_time is not None
    assert second.start_time is not None
    assert second.end_time is not None
    assert third.start_time is not None
    assert first.end_time <= second.start_time
    assert second.end_time <= third.start_time


async def test_a_failed_dependency_fails_the_whole_chain_without_running_it(
    client: ds.AsyncDeepSeekClient,
) -> None:
    first = await client.create_job(spec("exit 1"), submit=True)
    second = await client.create_job(spec("true", dependencies=[first.id]), submit=True)
    third = await client.create_job(spec("true", dependencies=[second.id]), submit=True)

    for job in (first, second, third):
        await job.wait(timeout=30)

    assert [(j.status, j.state_reason) for j in (second, third)] == [
        ("FAILED", "DEPENDENCY_FAILED"),
        ("FAILED", "DEPENDENCY_FAILED"),
    ]
    assert second.start_time is None
    assert third.start_time is None


async def test_a_dependency_on_a_job_that_already_failed_fails_at_once(
    client: ds.AsyncDeepSeekClient,
) -> None:
    failed = await client.create_job(spec("exit 2"), submit=True)
    await failed.wait(timeout=30)

    late = await client.create_job(spec("true", dependencies=[failed.id]), submit=True)
    await late.wait(timeout=30)

    assert (late.status, late.state_reason) == ("FAILED", "DEPENDENCY_FAILED")


async def test_the_same_request_id_returns_the_same_job_and_another_body_is_refused(
    client: ds.AsyncDeepSeekClient,
) -> None:
    first = await client.create_job(spec("true"), request_id="req-1")
    again = await client.create_job(spec("true"), request_id="req-1")
    together = await asyncio.gather(
        *(client.create_job(spec("echo x"), request_id="req-2") for _ in range(10))
    )

    assert again.id == first.id
    assert len({job.id for job in together}) == 1
    with pytest.raises(ds.AlreadyExists) as refused:
        await client.create_job(spec("false"), request_id="req-1")
    assert refused.value.reason == "REQUEST_ID_REUSED"
    assert first.id in refused.value.message


async def test_pagination_is_stable_while_jobs_are_created(
    client: ds.AsyncDeepSeekClient,
) -> None:
    created = [await client.create_job(spec("true", job_name=f"p{i}")) for i in range(25)]
    listed = []
    async for job in client.list_jobs(name_prefix="p", page_size=10):
        listed.append(job.id)
        if len(listed) == 5:
            for i in range(5):
                await client.create_job(spec("true", job_name=f"p-late{i}"))

    assert listed == [job.id for job in reversed(created)]


async def test_listing_filters_by_state_name_prefix_labels_and_time(
    client: ds.AsyncDeepSeekClient,
) -> None:
    a = await client.create_job(spec("true", job_name="alpha", labels={"team": "md"}))
    b = await client.create_job(spec("true", job_name="beta", labels={"team": "ml"}))
    c = await client.create_job(spec("true", job_name="alpha-2", labels={"team": "md"}))
    await (await client.submit_job(c.id)).wait(timeout=30)

    async def ids(**conditions: object) -> list[str]:
        return [job.id async for job in client.list_jobs(**conditions)]  # type: ignore[arg-type]

    assert await ids(name_prefix="alpha") == [c.id, a.id]
    assert await ids(labels={"team": "md"}) == [c.id, a.id]
    assert await ids(states=["CREATED"]) == [b.id, a.id]
    assert await ids(created_after=a.create_time, created_before=c.create_time) == [b.id]


async def test_a_batch_gives_one_result_per_item(client: ds.AsyncDeepSeekClient) -> None:
    results = await client.batch_create_jobs(
        [spec("true"), spec(""), spec("true", job_name="x" * 200), spec("echo ok")]
    )

    assert [type(r).__name__ for r in results] == [
        "AsyncJob",
        "InvalidArgument",
        "InvalidArgument",
        "AsyncJob",
    ]
    bad = results[1]
    assert isinstance(bad, ds.InvalidArgument)
    assert bad.field_violations == [ds.FieldViolation("spec.command", "is required")]


async def test_bad_specs_are_refused_naming_each_field(client: ds.AsyncDeepSeekClient) -> None:
    with pytest.raises(ds.InvalidArgument) as refused:
        await client.create_job(
            {
                "job_name": "bad",
                "resource_spec": {"nodes": 2, "gpus_per_node": 9, "gpu_type": "H100"},
                "command": "true",
                "timeout": -5,
                "dependencies": ["job-0000000000000000000000unknown", "missing_dataset"],
                "environment": {"DEEPSEEK_JOB_ID": "spoof"},
            }
        )

    assert {v.field for v in refused.value.field_violations} == {
        "spec.resource_spec.gpus_per_node",
        "spec.timeout",
        "spec.environment['DEEPSEEK_JOB_ID']",
        "spec.dependencies[0]",
        "spec.dependencies[1]",
    }


@pytest.mark.executors("local")
async def test_a_spec_beyond_the_local_executor_is_refused_at_creation(
    client: ds.AsyncDeepSeekClient,
) -> None:
    capabilities = await client.get_capabilities()
    with pytest.raises(ds.InvalidArgument) as refused:
        await client.create_job({**spec("true"), "resource_spec": {"nodes": 4}})

    assert capabilities.executor == "local"
    assert capabilities.partitions[0].max_nodes == 1
    assert refused.value.field_violations[0].field == "spec.resource_spec.nodes"


async def test_an_unknown_job_is_not_found(client: ds.AsyncDeepSeekClient) -> None:
    with pytest.raises(ds.NotFound):
        await client.get_job("job-doesnotexist")
    with pytest.raises(ds.NotFound):
        await client.cancel_job("job-doesnotexist")


async def _until(condition: object, *jobs: ds.AsyncJob) -> None:
    """Refresh ``jobs`` until ``condition()`` holds (bounded)."""
    assert callable(condition)
    async with asyncio.timeout(30):
        while not condition():
            for job in jobs:
                await job.refresh()
            await asyncio.sleep(0.05)
