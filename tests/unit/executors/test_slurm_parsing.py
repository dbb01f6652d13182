"""What the Slurm commands print, read without Slurm: squeue, sacct -c, sinfo, and the outcomes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deepseek_server.executors import GpuType, OutcomeKind, Partition
from deepseek_server.executors.slurm._parsing import (
    JobRecord,
    outcome_of,
    parse_duration,
    parse_exit_code,
    parse_gpus,
    parse_sacct,
    parse_sinfo,
    parse_squeue,
)

THIRTY_DAYS = 30 * 86400
# Captured from Slurm 22.05 (squeue -h -t all -o '%i|%T|%r|%S|%e|%N|%j').
SQUEUE = """\
5|CANCELLED|None|2026-12-04T20:32:03|2026-12-04T20:32:03|n1|run-d
4|CANCELLED|JobHeldUser|2026-12-04T20:32:03|2026-12-04T20:32:03||pend-c
3|CANCELLED|DependencyNeverSatisfied|2026-12-04T20:32:05|2026-12-04T20:32:05||dep-b
12|PENDING|Resources|N/A|N/A||a|name|with|bars
13|RUNNING|None|2026-12-04T20:40:00|2026-12-04T21:40:00|n[1-4]|big
not a row
"""
# Captured from sacct -c -P -n -o JobID,State,ExitCode,Start,End,NodeList,JobName.
SACCT = """\
1|FAILED|3:0|2026-12-04T20:31:55|2026-12-04T20:31:57|n[1-4]|dsg-test-1
5|CANCELLED|0:0|2026-12-04T20:32:03|2026-12-04T20:32:03|n1|run-d
4|CANCELLED|0:0|2026-12-04T20:32:03|2026-12-04T20:32:03|(null)|pend-c
6|FAILED|127:0|2026-12-04T20:32:03|2026-12-04T20:32:03|n1|nf-e
7|TIMEOUT|0:15|2026-12-04T20:33:00|2026-12-04T20:34:12|n2|slow
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_squeue_rows_keep_the_name_whole_and_skip_malformed_lines() -> None:
    records = {r.job_id: r for r in parse_squeue(SQUEUE)}

    assert sorted(records) == ["12", "13", "3", "4", "5"]
    assert records["12"].name == "a|name|with|bars"
    assert records["12"].start is None
    assert (records["12"].has_started, records["12"].has_ended) == (False, False)
    assert records["13"].start == at("2026-12-04T20:40:00")
    assert (records["13"].has_started, records["13"].ran) == (True, True)
    assert records["3"].reason == "DependencyNeverSatisfied"
    assert records["4"].ran is False
    assert records["5"].has_ended


def test_sacct_rows_carry_exit_code_and_signal() -> None:
    records = {r.job_id: r for r in parse_sacct(SACCT)}

    assert (records["1"].state, records["1"].exit_code, records["1"].signal) == ("FAILED", 3, 0)
    assert (records["7"].exit_code, records["7"].signal) == (0, 15)
    assert records["4"].ran is False
    assert records["1"].end == at("2026-12-04T20:31:57")


def test_sacct_state_with_who_cancelled_is_the_base_state() -> None:
    (record,) = parse_sacct("9|CANCELLED by 0|0:15|N/A|N/A|None assigned|x\n")

    assert (record.state, record.start, record.ran) == ("CANCELLED", None, False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0:0", (0, 0)), ("3:0", (3, 0)), ("0:15", (0, 15)), ("", (None, 0)), ("x:y", (None, 0))],
)
def test_exit_codes(text: str, expected: tuple[int | None, int]) -> None:
    assert parse_exit_code(text) == expected


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("infinite", None),
        ("UNLIMITED", None),
        ("30", 1800),
        ("5:30", 330),
        ("2:00:00", 7200),
        ("1-00:00:00", 86400),
        ("2-12", 2 * 86400 + 12 * 3600),
        ("1-01:30", 86400 + 3600 + 1800),
    ],
)
def test_durations(text: str, seconds: int | None) -> None:
    assert parse_duration(text) == seconds


def test_gpus_are_counted_per_platform_type_and_others_left_out() -> None:
    assert parse_gpus("gpu:a100:8(S:0-1)") == {GpuType.A100: 8}
    assert parse_gpus("gpu:a100:4,gpu:h100:2(S:0),mps:100") == {GpuType.A100: 4, GpuType.H100: 2}
    assert parse_gpus("gpu:8") == {}
    assert parse_gpus("gpu:v100:8") == {}
    assert parse_gpus("(null)") == {}


def test_sinfo_lines_make_partitions_and_name_the_default() -> None:
    output = (
        "batch*|up|3|32|256000|gpu:a100:8|infinite|1-infinite\n"
        "batch*|up|1|64|512000+|gpu:h100:4|infinite|1-infinite\n"
        "short|up|2|16|64000|(null)|30:00|1-2\n"
    )

    partitions, default = parse_sinfo(output, THIRTY_DAYS)

    assert default == "batch"
    assert partitions == [
        Partition("batch", 4, 64, 500, 8, (GpuType.A100, GpuType.H100), THIRTY_DAYS),
        Partition("short", 2, 16, 62, 0, (), 1800),
    ]


def record(state: str, exit_code: int | None = 0, signal: int = 0, nodes: str = "n1") -> JobRecord:
    return JobRecord(
        job_id="1",
        state=state,
        name="x",
        start=at("2026-01-01T00:00:00"),
        end=at("2026-01-01T00:00:42"),
        nodes=nodes,
        exit_code=exit_code,
        signal=signal,
    )


@pytest.mark.parametrize(
    ("state", "exit_code", "signal", "reason", "kind", "code"),
    [
        ("COMPLETED", 0, 0, "", OutcomeKind.EXITED, 0),
        ("FAILED", 3, 0, "NonZeroExitCode", OutcomeKind.EXITED, 3),
        ("FAILED", 127, 0, "NonZeroExitCode", OutcomeKind.LAUNCH_FAILED, 127),
        ("FAILED", 0, 9, "RaisedSignal:9", OutcomeKind.SIGNALLED, None),
        ("CANCELLED", 0, 15, "", OutcomeKind.CANCELLED, None),
        ("CANCELLED", 0, 0, "DependencyNeverSatisfied", OutcomeKind.DEPENDENCY_FAILED, None),
        ("TIMEOUT", 0, 15, "TimeLimit", OutcomeKind.TIMED_OUT, None),
        ("OUT_OF_MEMORY", 0, 9, "", OutcomeKind.OUT_OF_MEMORY, None),
        ("NODE_FAIL", 0, 0, "", OutcomeKind.NODE_FAILURE, None),
        ("BOOT_FAIL", 0, 0, "", OutcomeKind.NODE_FAILURE, None),
        ("PREEMPTED", 0, 0, "", OutcomeKind.PREEMPTED, None),
        ("REVOKED", 0, 0, "", OutcomeKind.LOST, None),
    ],
)
def test_slurm_endings_map_to_outcomes(
    state: str,
    exit_code: int,
    signal: int,
    reason: str,
    kind: OutcomeKind,
    code: int | None,
) -> None:
    outcome = outcome_of(record(state, exit_code, signal), reason)

    assert (outcome.kind, outcome.exit_code) == (kind, code)
    assert outcome.wall_time_seconds == 42.0
    assert outcome.end_time == at("2026-01-01T00:00:42")


def test_a_job_that_never_ran_has_no_start_and_no_wall_time() -> None:
    outcome = outcome_of(record("CANCELLED", nodes="(null)"))

    assert (outcome.kind, outcome.start_time, outcome.wall_time_seconds) == (
        OutcomeKind.CANCELLED,
        None,
        0.0,
    )
