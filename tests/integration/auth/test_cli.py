"""``deepseek-server clients`` and ``keys`` as an administrator runs them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SECRET = re.compile(r"ds_secret_[A-Za-z0-9_-]+")


def cli(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DEEPSEEK")}
    environ["DEEPSEEK__STORAGE__STATE_DIR"] = str(state_dir)
    return subprocess.run(
        [sys.executable, "-m", "deepseek_server", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_create_prints_the_secret_once_and_list_never_shows_it(tmp_path: Path) -> None:
    state = tmp_path / "var"

    created = cli(
        state, "clients", "create", "--user", "alice", "--scopes", "compute:read", "admin"
    )
    disabled = cli(state, "clients", "disable", _client_id(created.stdout))
    listed = cli(state, "clients", "list")
    rotated = cli(state, "clients", "rotate-secret", _client_id(created.stdout))
    no_keys = cli(state, "keys", "list")
    rotated_key = cli(state, "keys", "rotate")
    keys = cli(state, "keys", "list")
    unknown = cli(state, "clients", "disable", "ds_client_nobody")
    bad_scope = cli(state, "clients", "create", "--user", "bob", "--scopes", "root")

    assert created.returncode == 0, created.stderr
    client_id = _client_id(created.stdout)
    secrets = SECRET.findall(created.stdout)
    assert len(secrets) == 1
    assert disabled.stdout.strip() == f"client {client_id} disabled"
    assert listed.returncode == 0
    assert client_id in listed.stdout
    assert "alice" in listed.stdout
    assert "admin compute:read" in listed.stdout
    assert re.search(rf"{client_id}\s+alice\s+no\s", listed.stdout)
    assert not SECRET.search(listed.stdout)
    assert secrets[0] not in listed.stdout + listed.stderr
    assert SECRET.findall(rotated.stdout) != secrets
    assert len(SECRET.findall(rotated.stdout)) == 1
    assert "no signing keys yet" in no_keys.stdout
    kid = rotated_key.stdout.split()[-1]
    assert re.search(rf"{kid}\s+ES256\s+\S+\s+active", keys.stdout)
    assert kid in (state / "jwks.json").read_text()
    assert (unknown.returncode, unknown.stderr.strip()) == (
        1,
        "deepseek-server: client ds_client_nobody not found",
    )
    assert bad_scope.returncode == 2
    assert "unknown scope 'root'" in bad_scope.stderr
    assert (
        SECRET.search((state / "gateway.db").read_bytes().decode("latin-1")) is None
    )  # stored only as a hash


def _client_id(output: str) -> str:
    match = re.search(r"client_id:\s+(\S+)", output)
    assert match is not None, output
    return match.group(1)
