"""``deepseek usage``, ``quota`` and ``audit list``."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.cli.conftest import Deepseek
from tests.integration.cli.test_cli_jobs import submitted_id


async def run_billed_job(deepseek: Deepseek, tmp_path: Path) -> str:
    """Run a 2-CPU job to its end; its id."""
    spec_file = tmp_path / "job.yaml"
    spec_file.write_text(
        "job_name: billed\nresource_spec: {nodes: 1, cpus_per_node: 2}\ncommand: sleep 1\n"
    )
    result = await deepseek("submit", str(spec_file), "--wait")
    assert result.code == 0, result.err
    return submitted_id(result.out)


async def test_usage_and_quota_show_the_cost_of_a_finished_job(
    deepseek: Deepseek, logged_in: str, tmp_path: Path
) -> None:
    job_id = await run_billed_job(deepseek, tmp_path)

    usage = await deepseek("usage")
    usage_json = json.loads((await deepseek("usage", "--json")).out)
    quota = await deepseek("quota")
    quota_json = json.loads((await deepseek("quota", "--json")).out)

    [line] = usage_json["lines"]
    assert (line["job_id"], line["job_name"], line["core_seconds"]) == (
        job_id,
        "billed",
        2 * line["wall_seconds"],
    )
    total = usage_json["total_cost"]
    assert total["minor_units"] == line["cost"]["minor_units"] > 0
    cost_text = f"{total['minor_units'] // 100}.{total['minor_units'] % 100:02d} CNY"
    assert total["text"] == cost_text
    header, row, summary = usage.out.splitlines()
    assert header.split() == ["JOB", "NAME", "WALL", "CORE", "TIME", "GPU", "TIME", "COST"]
    assert row.split()[:2] == [job_id, "billed"]
    assert row.endswith(f"  -         {cost_text}")
    assert summary.startswith(f"Total {cost_text} (")

    assert quota.code == 0
    assert quota.out.splitlines()[0].split() == ["LIMIT", "IN", "USE", "OF", "USED", "SOURCE"]
    budget = next(line for line in quota.out.splitlines() if line.startswith("MONTHLY_BUDGET"))
    assert budget.split()[1:3] == cost_text.split()
    assert quota_json["user_id"] == "alice"
    kinds = {limit["kind"]: limit for limit in quota_json["limits"]}
    assert set(kinds) == {"CONCURRENT_JOBS", "NODES", "GPUS", "STORAGE_BYTES", "MONTHLY_BUDGET"}
    assert kinds["MONTHLY_BUDGET"]["usage"] == total["minor_units"]


async def test_usage_of_a_window_without_jobs_is_zero_and_a_reversed_window_is_refused(
    deepseek: Deepseek, logged_in: str
) -> None:
    empty = await deepseek("usage", "--from", "2020-01-01", "--to", "2020-01-31")
    reversed_window = await deepseek("usage", "--from", "2020-02-01", "--to", "2020-01-01")
    not_a_date = await deepseek("usage", "--from", "last tuesday")

    assert empty.code == 0
    assert empty.out.startswith("Total 0.00 CNY (2020-01-01 ")
    assert empty.err == "No jobs ended in this window.\n"
    assert (reversed_window.code, reversed_window.err) == (
        2,
        "deepseek: error: --from must be before --to\n",
    )
    assert not_a_date.code == 2
    assert "expected a date like 2026-01-31" in not_a_date.err


async def test_audit_list_shows_the_calls_that_were_made(
    deepseek: Deepseek, logged_in: str, tmp_path: Path
) -> None:
    job_id = await run_billed_job(deepseek, tmp_path)

    table = await deepseek("audit", "list", "--resource", job_id)
    created = json.loads((await deepseek("audit", "list", "--action", "job.create", "--json")).out)

    assert table.code == 0, table.err
    rows = [line.split() for line in table.out.splitlines()[1:]]
    assert {row[3] for row in rows} == {"alice"}
    assert rows[0][4] == "job.create"
    assert {row[4] for row in rows[1:]} == {"job.state_change"}
    assert {(row[5], row[6]) for row in rows} == {(job_id, "OK")}
    assert [(r["action"], r["resource_id"], r["status"], r["user_id"]) for r in created] == [
        ("job.create", job_id, "OK", "alice")
    ]
    assert created[0]["client_id"] == logged_in
