"""The status poller: one squeue per round for every job, one sacct -c for those that ended."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from deepseek_server.executors import OutcomeKind
from deepseek_server.executors.slurm import SlurmCommands
from deepseek_server.executors.slurm._parsing import JobRecord
from deepseek_server.executors.slurm._poller import StatusPoller

START = datetime(2026, 1, 1, tzinfo=UTC)


class FakeCommands(SlurmCommands):
    """What squeue and sacct -c would print, and how often they were asked."""

    def __init__(self) -> None:
        super().__init__()
        self.queue: list[JobRecord] = []
        self.records: list[JobRecord] = []
        self.calls: list[str] = []

    async def squeue(self) -> list[JobRecord]:
        self.calls.append("squeue")
        return list(self.queue)

    async def completed(self, job_ids: Sequence[str] | None) -> list[JobRecord]:
        self.calls.append(f"sacct {','.join(job_ids or ['*'])}")
        return [r for r in self.records if job_ids is None or r.job_id in job_ids]


def running(job_id: str) -> JobRecord:
    return JobRecord(job_id, "RUNNING", f"name-{job_id}", start=START, nodes="n1")


def ended(job_id: str, state: str, exit_code: int, name: str = "") -> JobRecord:
    return JobRecord(
        job_id,
        state,
        name or f"name-{job_id}",
        start=START,
        end=START,
        nodes="n1",
        exit_code=exit_code,
    )


async def test_one_round_asks_squeue_once_for_all_jobs_and_sacct_once_for_the_ended() -> None:
    commands = FakeCommands()
    poller = StatusPoller(commands, interval_seconds=60)
    watched = [poller.watch(str(i), f"name-{i}") for i in range(100)]
    commands.queue = [running(str(i)) for i in range(98)] + [ended("98", "COMPLETED", 0)]
    commands.records = [ended("98", "COMPLETED", 0), ended("99", "FAILED", 3)]

    await poller.poll()
    await poller.close()

    assert commands.calls == ["squeue", "sacct 98,99"]
    assert all(w.started.result() == START for w in watched)
    assert watched[98].ended.result().kind is OutcomeKind.EXITED
    # 99 was purged from the controller already: its completion record tells how it ended.
    assert (watched[99].ended.result().kind, watched[99].ended.result().exit_code) == (
        OutcomeKind.EXITED,
        3,
    )


async def test_a_record_of_another_job_with_a_reused_id_is_not_taken_for_ours() -> None:
    commands = FakeCommands()
    poller = StatusPoller(commands, interval_seconds=60)
    watched = poller.watch("7", "name-7")
    commands.records = [ended("7", "FAILED", 1, name="from-an-older-cluster")]

    await poller.poll()

    assert not watched.ended.done()
    commands.records.append(ended("7", "COMPLETED", 0))
    await poller.poll()
    assert watched.ended.result().exit_code == 0
    await poller.close()


async def test_a_job_cancelled_because_its_dependency_failed_is_a_dependency_failure() -> None:
    commands = FakeCommands()
    poller = StatusPoller(commands, interval_seconds=60)
    watched = poller.watch("5", "name-5")
    commands.queue = [
        JobRecord("5", "CANCELLED", "name-5", reason="DependencyNeverSatisfied", nodes="")
    ]
    commands.records = [JobRecord("5", "CANCELLED", "name-5", nodes="(null)", exit_code=0)]

    await poller.poll()

    assert watched.started.result() is None
    assert watched.ended.result().kind is OutcomeKind.DEPENDENCY_FAILED
    await poller.close()
