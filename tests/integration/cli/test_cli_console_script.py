"""The installed ``deepseek`` console script, run as a separate process, as a user would."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import stat
import sys
from pathlib import Path

from deepseek_server.app import Gateway

DEEPSEEK = Path(sys.executable).parent / "deepseek"


async def deepseek(
    *argv: str, config_dir: Path, stdin: bytes = b"", tty: bool = False
) -> tuple[int, str, str]:
    """Run the console script; its exit code, stdout and stderr."""
    env = {**os.environ, "DEEPSEEK_CONFIG_DIR": str(config_dir), "COLUMNS": "160"}
    env.pop("DEEPSEEK_PROFILE", None)
    if tty:
        return await _on_a_terminal(argv, env)
    process = await asyncio.create_subprocess_exec(
        DEEPSEEK,
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), 40)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def _on_a_terminal(argv: tuple[str, ...], env: dict[str, str]) -> tuple[int, str, str]:
    leader, follower = pty.openpty()
    process = await asyncio.create_subprocess_exec(
        DEEPSEEK, *argv, stdout=follower, stderr=asyncio.subprocess.PIPE, env=env
    )
    os.close(follower)

    def read_all() -> bytes:
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    screen, (_, err) = await asyncio.wait_for(
        asyncio.gather(asyncio.to_thread(read_all), process.communicate()), 40
    )
    os.close(leader)
    assert process.returncode is not None
    return process.returncode, screen.decode(errors="replace"), err.decode()


async def test_log_in_submit_wait_and_read_logs_with_the_installed_command(
    gateway: Gateway, tmp_path: Path
) -> None:
    made = await gateway.identity.clients.create("bob", ["compute:read", "compute:write"])
    config_dir = tmp_path / "cfg"
    spec_file = tmp_path / "job.yaml"
    spec_file.write_text(
        "job_name: e2e\nresource_spec: {nodes: 1}\ncommand: sleep 0.3; echo from the cluster\n"
    )

    login = await deepseek(
        "login",
        "--endpoint",
        gateway.address,
        "--client-id",
        made.client.id,
        "--client-secret-stdin",
        config_dir=config_dir,
        stdin=made.secret.encode() + b"\n",
    )
    submitted = await deepseek("submit", str(spec_file), "--wait", "--json", config_dir=config_dir)
    job = json.loads(submitted[1])
    logs = await deepseek("logs", job["id"], config_dir=config_dir)
    live = await deepseek("jobs", "watch", job["id"], config_dir=config_dir, tty=True)

    assert login[0] == 0, login[2]
    assert stat.S_IMODE((config_dir / "config.toml").stat().st_mode) == 0o600
    assert submitted[0] == 0, submitted[2]
    assert (job["status"], job["exit_code"], job["owner"]) == ("COMPLETED", 0, "bob")
    assert logs == (0, "from the cluster\n", "")
    code, screen, err = live
    assert code == 0, err
    assert "STATUS" in screen
    assert job["id"] in screen
    assert "COMPLETED" in screen
    assert "1/1 ended" in screen
