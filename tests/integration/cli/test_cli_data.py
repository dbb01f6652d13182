"""``deepseek upload``, ``submit --upload`` and ``download``: files in and out of jobs."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from tests.integration.cli.conftest import Deepseek
from tests.integration.cli.test_cli_jobs import submitted_id

JOINER = """\
job_name: joiner
resource_spec: {nodes: 1}
command: mkdir -p results && cat a.txt data/b.bin > results/joined.bin
"""


async def test_inputs_uploaded_at_submit_come_back_transformed_as_outputs(
    deepseek: Deepseek, logged_in: str, tmp_path: Path
) -> None:
    (tmp_path / "a.txt").write_bytes(b"alpha\n")
    (tmp_path / "data").mkdir()
    blob = os.urandom(3 * 1024 * 1024 + 17)
    (tmp_path / "data" / "b.bin").write_bytes(blob)
    spec_file = tmp_path / "job.yaml"
    spec_file.write_text(JOINER)

    submitted = await deepseek(
        "submit",
        str(spec_file),
        "--upload",
        str(tmp_path / "a.txt"),
        str(tmp_path / "data"),
        "--wait",
    )

    assert submitted.code == 0, submitted.err
    job_id = submitted_id(submitted.out)
    assert f"Uploaded 2 input file(s), 3.0 MiB, to job {job_id}." in submitted.err
    downloaded = await deepseek("download", job_id, str(tmp_path / "out"))
    assert downloaded.code == 0, downloaded.err
    local = tmp_path / "out" / "results" / "joined.bin"
    assert downloaded.out.splitlines() == [
        "FILE" + " " * (len(str(local)) - 2) + "SIZE",
        f"{local}  3.0 MiB",
    ]
    assert local.read_bytes() == b"alpha\n" + blob
    as_json = await deepseek("download", job_id, str(tmp_path / "again"), "--json")
    assert json.loads(as_json.out) == [
        {"path": str(tmp_path / "again" / "results" / "joined.bin"), "size_bytes": len(blob) + 6}
    ]


async def test_a_held_job_takes_uploads_until_it_is_submitted(
    deepseek: Deepseek, logged_in: str, tmp_path: Path
) -> None:
    spec_file = tmp_path / "job.yaml"
    spec_file.write_text("job_name: reader\nresource_spec: {nodes: 1}\ncommand: cat in.txt\n")
    (tmp_path / "in.txt").write_text("from the laptop\n")

    held = await deepseek("submit", str(spec_file), "--hold")
    job_id = submitted_id(held.out.replace("Created", "Submitted"))
    uploaded = await deepseek("upload", job_id, str(tmp_path / "in.txt"), "--json")
    released = await deepseek("jobs", "submit", job_id)
    again = await deepseek("upload", job_id, str(tmp_path / "in.txt"))
    watched = await deepseek("jobs", "watch", job_id)
    logs = await deepseek("logs", job_id)

    assert held.out == f"Created job {job_id} (reader): CREATED\n"
    assert uploaded.code == 0, uploaded.err
    assert json.loads(uploaded.out) == [
        {
            "path": "in.txt",
            "size_bytes": 16,
            "sha256": hashlib.sha256(b"from the laptop\n").hexdigest(),
            "job_id": job_id,
            "area": "INPUT",
        }
    ]
    assert released.out == f"Submitted job {job_id} (reader): QUEUED\n"
    assert again.code == 5
    assert "FAILED_PRECONDITION" in again.err
    assert watched.out.splitlines()[-1].endswith("COMPLETED  exit code 0")
    assert logs.out == "from the laptop\n"


async def test_a_missing_local_file_is_refused_before_a_job_is_created(
    deepseek: Deepseek, logged_in: str, tmp_path: Path
) -> None:
    spec_file = tmp_path / "job.yaml"
    spec_file.write_text(JOINER)

    result = await deepseek("submit", str(spec_file), "--upload", str(tmp_path / "nope.txt"))

    assert result.code == 2
    assert result.err == (
        f"deepseek: error: {tmp_path / 'nope.txt'}: no such file or directory — check the path\n"
    )
    assert json.loads((await deepseek("jobs", "list", "--json")).out) == []
