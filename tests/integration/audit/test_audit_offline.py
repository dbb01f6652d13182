"""Export to JSON Lines and verify with nothing but the file and the JWKS, after a crash too."""

from __future__ import annotations

import asyncio
import io
import json
import signal
from pathlib import Path

import grpc
import grpc.aio

from deepseek.hpc.v1 import job_pb2, job_pb2_grpc
from deepseek_server import audit_cli
from deepseek_server.app import Gateway
from deepseek_server.audit_cli import export_file, verify_file
from deepseek_server.cli import main
from deepseek_server.config import Settings, load_settings
from tests.integration.audit.conftest import all_records, request_id
from tests.support import gateway_process


async def _calls(jobs: job_pb2_grpc.JobServiceAsyncStub, count: int) -> None:
    await asyncio.gather(
        *(
            jobs.ListJobs(job_pb2.ListJobsRequest(), metadata=request_id(f"c{n}"))
            for n in range(count)
        )
    )


def _settings(state_dir: Path) -> Settings:
    return load_settings(None, {"DEEPSEEK__STORAGE__STATE_DIR": str(state_dir)})


async def test_export_then_verify_offline_and_every_tampering_is_reported(
    gateway: Gateway, jobs: job_pb2_grpc.JobServiceAsyncStub, tmp_path: Path
) -> None:
    await _calls(jobs, 30)
    await gateway.stop(grace=0)  # the final checkpoint signs the head
    export = tmp_path / "audit.jsonl"
    settings = _settings(gateway.settings.storage.state_dir)
    jwks = gateway.settings.storage.state_dir / "jwks.json"

    assert await export_file(settings, 1, 0, export, io.StringIO()) == 0
    lines = export.read_text().splitlines()
    out = io.StringIO()
    assert await asyncio.to_thread(verify_file, export, jwks, out) == 0
    records = [line for line in lines if '"type":"record"' in line]
    checkpoints = [line for line in lines if '"type":"checkpoint"' in line]
    assert out.getvalue() == f"OK: {len(records)} records, {len(checkpoints)} checkpoints\n"
    assert len(records) >= 30
    assert checkpoints

    def verdict(tampered: list[str]) -> str:
        path = tmp_path / "tampered.jsonl"
        path.write_text("\n".join(tampered) + "\n")
        out = io.StringIO()
        assert verify_file(path, jwks, out) == 1
        return out.getvalue()

    position = {json.loads(line).get("sequence"): n for n, line in enumerate(lines) if n}
    edited = json.loads(lines[position[9]])
    edited["status"] = "PERMISSION_DENIED"
    assert "BROKEN at sequence 9: hash mismatch" in verdict(
        [*lines[: position[9]], json.dumps(edited), *lines[position[9] + 1 :]]
    )
    assert "BROKEN at sequence 4:" in verdict([*lines[: position[4]], *lines[position[4] + 1 :]])
    swapped = list(lines)
    swapped[position[6]], swapped[position[7]] = swapped[position[7]], swapped[position[6]]
    assert "BROKEN at sequence 6:" in verdict(swapped)
    last = len(records)
    assert f"BROKEN at sequence {last - 4}:" in verdict(
        [line for line in lines if json.loads(line).get("sequence", 0) < last - 4]
    )


async def test_the_cli_exports_and_verifies(gateway: Gateway, tmp_path: Path) -> None:
    await gateway.stop(grace=0)
    state = gateway.settings.storage.state_dir
    config = tmp_path / "gateway.toml"
    config.write_text(f'[storage]\nstate_dir = "{state}"\n')
    export = tmp_path / "out.jsonl"
    jwks = state / "jwks.json"

    exported = await asyncio.to_thread(
        main, ["audit", "export", "--config", str(config), "-o", str(export)]
    )
    verified = await asyncio.to_thread(main, ["audit", "verify", str(export), "--jwks", str(jwks)])

    assert (exported, verified) == (0, audit_cli.EXIT_OK)
    assert export.read_text().startswith('{"type":"header"')


async def test_kill_9_during_a_burst_loses_no_record_of_an_answered_call(tmp_path: Path) -> None:
    state = tmp_path / "var"
    answered: list[str] = []
    enough = asyncio.Event()
    async with gateway_process(state) as (process, address):  # noqa: SIM117 - killed inside
        async with grpc.aio.insecure_channel(address) as channel:
            jobs = job_pb2_grpc.JobServiceStub(channel)

            async def call(name: str) -> None:
                await jobs.ListJobs(job_pb2.ListJobsRequest(), metadata=request_id(name))
                answered.append(name)
                if len(answered) >= 500:
                    enough.set()

            async def burst() -> None:
                for wave in range(10_000):
                    await asyncio.gather(
                        *(call(f"k{wave}-{n}") for n in range(50)), return_exceptions=True
                    )

            bursting = asyncio.create_task(burst())
            await asyncio.wait_for(enough.wait(), 30)
            process.send_signal(signal.SIGKILL)
            killed_after = len(answered)
            await asyncio.to_thread(process.wait, 30)
            await asyncio.gather(bursting, return_exceptions=True)

    restarted = Gateway(_settings(state))
    await restarted.start()
    try:
        recorded = {r.request_id for r in await all_records(restarted)}
        verdict = await restarted.audit.verify(0, 0)
    finally:
        await restarted.stop(grace=0)
    assert killed_after >= 500
    assert set(answered) - recorded == set()
    assert verdict.ok, verdict
