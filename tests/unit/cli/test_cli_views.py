"""How jobs and command-line values look, without a gateway."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from google.protobuf import json_format

import deepseek_api as ds
from deepseek.hpc.v1 import job_pb2
from deepseek_api.cli import _jobviews, _parsing

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def failed_gpu_job() -> ds.Job:
    """A FAILED 2-node GPU job that ran 90 s, ended 2 minutes before ``NOW``."""
    proto = json_format.ParseDict(
        {
            "id": "job-abc",
            "spec": {
                "job_name": "分子动力学",
                "resource_spec": {"nodes": 2, "gpus_per_node": 4, "gpu_type": "GPU_TYPE_H100"},
                "command": "gromacs",
                "labels": {"project": "md"},
            },
            "state": "JOB_STATE_FAILED",
            "state_reason": "JOB_STATE_REASON_NON_ZERO_EXIT",
            "exit_code": 3,
            "create_time": "2026-03-01T11:55:00Z",
            "start_time": "2026-03-01T11:56:30Z",
            "end_time": "2026-03-01T11:58:00Z",
            "cost": {"currency_code": "CNY", "minor_units": 1234},
        },
        job_pb2.Job(),
    )
    # The views never call the client.
    return ds.Job(proto, cast(Any, None))


def test_a_job_row_says_what_happened_and_for_how_long() -> None:
    assert _jobviews.job_row(failed_gpu_job(), NOW) == [
        "job-abc",
        "分子动力学",
        "FAILED",
        "NON_ZERO_EXIT",
        "2",
        "5m00s ago",
        "1m30s",
        "3",
    ]


def test_job_details_show_gpus_cost_and_labels() -> None:
    lines = _jobviews.job_details(failed_gpu_job(), NOW).splitlines()

    assert "GPUs per node: 4 x H100" in lines
    assert "Cost:          12.34 CNY" in lines
    assert "Labels:        project=md" in lines
    assert "Exit code:     3" in lines


def test_the_json_spec_has_the_guides_shape() -> None:
    as_json = _jobviews.job_dict(failed_gpu_job())

    assert as_json["spec"] == {
        "job_name": "分子动力学",
        "resource_spec": {"nodes": 2, "gpus_per_node": 4, "gpu_type": "H100"},
        "command": "gromacs",
        "labels": {"project": "md"},
    }
    assert (as_json["status"], as_json["state_reason"], as_json["exit_code"]) == (
        "FAILED",
        "NON_ZERO_EXIT",
        3,
    )
    assert as_json["end_time"] == "2026-03-01T11:58:00Z"
    assert as_json["cost"] == {"currency_code": "CNY", "minor_units": 1234}


def test_the_outcome_names_the_reason_and_exit_code() -> None:
    assert _jobviews.outcome_suffix(failed_gpu_job()) == "  NON_ZERO_EXIT, exit code 3"


def test_states_are_read_in_any_case_and_separated_by_commas() -> None:
    assert _parsing.job_states("running, Queued") == ["RUNNING", "QUEUED"]
    with pytest.raises(argparse.ArgumentTypeError, match="unknown state DONE; choose from"):
        _parsing.job_states("done")


def test_labels_need_a_key_and_an_equals_sign() -> None:
    assert _parsing.label("a=b=c") == ("a", "b=c")
    with pytest.raises(argparse.ArgumentTypeError):
        _parsing.label("=x")


def test_a_bare_end_date_includes_that_whole_day() -> None:
    start = _parsing.moment("2026-01-31")
    end = _parsing.end_moment("2026-01-31")

    assert end - start == timedelta(days=1)
    assert start.tzinfo is not None
    assert _parsing.moment("2026-01-31T08:00+08:00") == datetime(2026, 1, 31, 0, 0, tzinfo=UTC)
    assert _parsing.moment("2026-01-31T08:00") == datetime(2026, 1, 31, 8, 0).astimezone()
