"""Submitting, listing, showing, following and cancelling jobs with ``deepseek``."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.integration.cli.conftest import Deepseek

GUIDE_YAML = """\
job_name: molecular_dynamics_001
resource_spec:
  nodes: 1
  cpus_per_node: 1
command: echo "$GREETING from $MD_STEPS steps"
timeout: 600
environment:
  GREETING: hello
  MD_STEPS: "5000"
labels:
  project: md
"""

SUBMITTED = re.compile(r"^Submitted job (job-[0-9a-z]+) \((.*)\): (\w+)$", re.MULTILINE)


def submitted_id(output: str) -> str:
    """The job id of ``deepseek submit``'s first line."""
    found = SUBMITTED.search(output)
    assert found, output
    return found.group(1)


async def test_a_yaml_job_is_submitted_waited_for_listed_shown_and_its_logs_read(
    deepseek: Deepseek, logged_in: str, tmp_path: Path
) -> None:
    spec_file = tmp_path / "job.yaml"
    spec_file.write_text(GUIDE_YAML)

    submitted = await deepseek("submit", str(spec_file), "--wait")

    assert submitted.code == 0, submitted.err
    job_id = submitted_id(submitted.out)
    lines = submitted.out.splitlines()
    assert lines[0] == f"Submitted job {job_id} (molecular_dynamics_001): QUEUED"
    assert lines[-1] == f"Job {job_id} COMPLETED  exit code 0"
    assert any(
        line.endswith(f"{job_id}  molecular_dynamics_001  RUNNING -> COMPLETED  exit code 0")
        for line in lines
    )

    logs = await deepseek("logs", job_id)
    assert (logs.code, logs.out) == (0, "hello from 5000 steps\n")

    listed = await deepseek("jobs", "list", "--label", "project=md")
    assert listed.code == 0
    header, row = listed.out.splitlines()
    assert header.split() == [
        "ID",
        "NAME",
        "STATUS",
        "REASON",
        "NODES",
        "CREATED",
        "RUNTIME",
        "EXIT",
    ]
    assert row.split()[:5] == [job_id, "molecular_dynamics_001", "COMPLETED", "-", "1"]
    assert row.split()[-1] == "0"

    shown = await deepseek("jobs", "show", job_id)
    assert shown.code == 0
    assert f"ID:            {job_id}" in shown.out.splitlines()
    assert "Status:        COMPLETED" in shown.out.splitlines()
    assert 'Command:       echo "$GREETING from $MD_STEPS steps"' in shown.out.splitlines()
    assert "Environment:   GREETING=hello, MD_STEPS=5000" in shown.out.splitlines()


async def test_a_json_job_is_submitted_and_cancelled_and_json_output_parses(
    deepseek: Deepseek, logged_in: str, tmp_path: Path
) -> None:
    spec_file = tmp_path / "job.json"
    spec_file.write_text(
        json.dumps(
            {
                "job_name": "long_sleeper",
                "resource_spec": {"nodes": 1, "cpus_per_node": 1},
                "command": "sleep 60",
                "labels": {"kind": "cli-test"},
            }
        )
    )

    submitted = await deepseek("submit", str(spec_file), "--json")

    assert submitted.code == 0, submitted.err
    job = json.loads(submitted.out)
    assert (job["job_name"], job["status"]) == ("long_sleeper", "QUEUED")
    assert job["spec"]["resource_spec"] == {"nodes": 1, "cpus_per_node": 1}
    assert job["spec"]["labels"] == {"kind": "cli-test"}

    cancelled = await deepseek("cancel", job["id"])
    assert cancelled.code == 0, cancelled.err
    assert re.fullmatch(
        rf"{job['id']}: (CANCELLED|cancelling \((QUEUED|RUNNING)\); it stops shortly)\n",
        cancelled.out,
    )
    watched = await deepseek("jobs", "watch", job["id"])
    assert watched.code == 0
    assert watched.out.splitlines()[-1].endswith("CANCELLED  CANCELLED_BY_USER")

    listed = await deepseek("--json", "jobs", "list", "--state", "cancelled,failed")
    assert [(j["id"], j["status"]) for j in json.loads(listed.out)] == [(job["id"], "CANCELLED")]
    shown = json.loads((await deepseek("jobs", "show", job["id"], "--json")).out)
    assert shown["status"] == "CANCELLED"
    assert shown["end_time"].endswith("Z")


async def test_a_spec_the_gateway_refuses_names_every_field_and_the_file(
    deepseek: Deepseek, logged_in: str, tmp_path: Path
) -> None:
    spec_file = tmp_path / "bad.yaml"
    spec_file.write_text("job_name: ''\nresource_spec: {nodes: 0}\ncommand: hostname\n")

    result = await deepseek("submit", str(spec_file))

    assert result.code == 5
    assert result.out == ""
    first, *details = result.err.splitlines()
    assert first.startswith("deepseek: error: INVALID_ARGUMENT: ")
    assert first.endswith("(2 problem(s)):")
    assert sorted(details) == [
        f"  spec.job_name: is required — fix it in {spec_file}",
        f"  spec.resource_spec.nodes: must be between 1 and 1024, got 0 — fix it in {spec_file}",
    ]


async def test_a_malformed_spec_file_is_refused_before_anything_is_sent(
    deepseek: Deepseek, logged_in: str, tmp_path: Path
) -> None:
    unknown_field = tmp_path / "typo.yaml"
    unknown_field.write_text("job_name: x\nresource_spec: {nodez: 1}\ncommand: hostname\n")
    broken_yaml = tmp_path / "broken.yaml"
    broken_yaml.write_text("job_name: x\nresource_spec: {nodes: 1\ncommand: hostname\n")

    typo = await deepseek("submit", str(unknown_field))
    broken = await deepseek("submit", str(broken_yaml))
    missing = await deepseek("submit", str(tmp_path / "absent.yaml"))

    assert typo.code == 5
    assert "nodez" in typo.err
    assert typo.err.rstrip().endswith(f"— fix it in {unknown_field}")
    assert broken.code == 5
    assert broken.err.startswith(f"deepseek: error: {broken_yaml}:3:")
    assert "invalid YAML" in broken.err
    assert missing.code == 2
    assert "absent.yaml: no such file" in missing.err
    assert (await deepseek("jobs", "list", "--json")).out.strip() == "[]"


async def test_an_unknown_job_id_exits_3(deepseek: Deepseek, logged_in: str) -> None:
    for command in (["jobs", "show"], ["logs"], ["cancel"], ["jobs", "watch"]):
        result = await deepseek(*command, "job-doesnotexist")

        assert result.code == 3, (command, result.err)
        assert result.err.startswith("deepseek: error: ")
        assert "NOT_FOUND" in result.err
        assert "job-doesnotexist" in result.err


async def test_a_job_that_fails_under_wait_exits_8_and_says_why(
    deepseek: Deepseek, logged_in: str, tmp_path: Path
) -> None:
    spec_file = tmp_path / "fails.yaml"
    spec_file.write_text(
        "job_name: fails\nresource_spec: {nodes: 1}\ncommand: echo oops >&2; exit 3\n"
    )

    result = await deepseek("submit", str(spec_file), "--wait")

    assert result.code == 8
    job_id = submitted_id(result.out)
    assert result.err.startswith(
        f"deepseek: error: job {job_id} ended FAILED (NON_ZERO_EXIT, exit code 3)"
    )
    assert f"see `deepseek logs {job_id} --stderr`" in result.err
    stderr = await deepseek("logs", job_id, "--stderr")
    assert stderr.out == "oops\n"


async def test_watch_prints_each_transition_until_the_job_ends(
    deepseek: Deepseek, logged_in: str, tmp_path: Path
) -> None:
    spec_file = tmp_path / "job.yaml"
    spec_file.write_text(
        "job_name: watched\nresource_spec: {nodes: 1}\ncommand: sleep 0.5; echo done\n"
    )
    job_id = submitted_id((await deepseek("submit", str(spec_file))).out)

    watched = await deepseek("jobs", "watch", job_id)
    streamed = await deepseek("jobs", "watch", job_id, "--json")

    assert watched.code == 0, watched.err
    states = [line.split("  ", 3)[3] for line in watched.out.splitlines()]
    assert states[-1] == "RUNNING -> COMPLETED  exit code 0"
    assert states[0] in {"QUEUED", "RUNNING"}
    events = [json.loads(line) for line in streamed.out.splitlines()]
    assert [event["type"] for event in events] == ["SNAPSHOT", "SNAPSHOT_COMPLETE"]
    assert events[0]["job"]["status"] == "COMPLETED"


async def test_logs_follow_prints_everything_until_the_job_ends(
    deepseek: Deepseek, logged_in: str, tmp_path: Path
) -> None:
    spec_file = tmp_path / "job.yaml"
    spec_file.write_text(
        "job_name: chatty\nresource_spec: {nodes: 1}\n"
        "command: for i in 1 2 3; do echo line $i; sleep 0.2; done\n"
    )
    job_id = submitted_id((await deepseek("submit", str(spec_file))).out)

    followed = await deepseek("logs", job_id, "--follow")
    as_json = await deepseek("logs", job_id, "--json")

    assert (followed.code, followed.out) == (0, "line 1\nline 2\nline 3\n")
    chunks = [json.loads(line) for line in as_json.out.splitlines()]
    assert "".join(chunk["data"] for chunk in chunks) == "line 1\nline 2\nline 3\n"
    assert chunks[0]["offset"] == 0


async def test_usage_errors_exit_2_and_say_what_is_accepted(deepseek: Deepseek) -> None:
    bad_state = await deepseek("jobs", "list", "--state", "SLEEPING")
    no_command = await deepseek()
    help_text = await deepseek("submit", "--help")

    assert bad_state.code == 2
    assert "unknown state SLEEPING; choose from CREATED, QUEUED, RUNNING" in bad_state.err
    assert no_command.code == 2
    assert "required: COMMAND" in no_command.err
    assert help_text.code == 0
    assert "usage: deepseek submit" in help_text.out
    assert "--wait" in help_text.out
