"""The gateway as an operator runs it: ``python -m deepseek_server``, grpcurl, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

GRPCURL = Path(sys.executable).with_name("grpcurl")


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    """The gateway's environment: a free port, state under tmp_path, and no inherited settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DEEPSEEK")}
    return {
        **clean,
        "DEEPSEEK__SERVER__PORT": "0",
        "DEEPSEEK__SERVER__GRACE_PERIOD_SECONDS": "5",
        "DEEPSEEK__STORAGE__STATE_DIR": str(tmp_path / "var"),
    }


def start(environ: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "deepseek_server", *args],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def log_lines(process: subprocess.Popen[str]) -> Iterator[dict[str, object]]:
    """The gateway's JSON log entries (gRPC core writes plain lines of its own in between)."""
    assert process.stderr is not None
    for line in process.stderr:
        if line.startswith("{"):
            yield json.loads(line)


@pytest.fixture
def served(environ: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A gateway process that has logged it is serving, and its address."""
    process = start(environ)
    try:
        serving = next(e for e in log_lines(process) if e["message"] == "gateway serving")
        yield process, str(serving["address"])
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def grpcurl(*args: str) -> str:
    done = subprocess.run(
        [str(GRPCURL), "-plaintext", *args], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_grpcurl_lists_the_services_and_sees_health_serving(
    served: tuple[subprocess.Popen[str], str],
) -> None:
    _, address = served

    listed = grpcurl(address, "list").split()
    health = json.loads(grpcurl(address, "grpc.health.v1.Health/Check"))
    described = grpcurl(address, "describe", "deepseek.hpc.v1.JobSpec")

    assert listed == [
        "deepseek.hpc.v1.AccountService",
        "deepseek.hpc.v1.AuditService",
        "deepseek.hpc.v1.AuthService",
        "deepseek.hpc.v1.DataChunkService",
        "deepseek.hpc.v1.JobService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    ]
    assert health == {"status": "SERVING"}
    assert "resource_spec" in described


def test_sigterm_stops_gracefully_with_exit_code_zero(
    served: tuple[subprocess.Popen[str], str],
) -> None:
    process, _ = served
    began = time.monotonic()

    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=15)
    messages = [e["message"] for e in log_lines(process)]

    assert code == 0
    assert time.monotonic() - began < 5
    assert messages[-2:] == ["gateway stopping", "gateway stopped"]


def test_a_bad_setting_stops_the_gateway_at_start_naming_it(
    environ: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text("[server]\nkeepalive_time_seconds = 0\n")

    from_file = start(environ, "--config", str(config))
    from_env = start({**environ, "DEEPSEEK__LOGGING__LEVEL": "chatty"})

    assert from_file.wait(timeout=30) == 2
    assert from_env.wait(timeout=30) == 2
    assert from_file.stderr is not None
    assert from_env.stderr is not None
    assert "server.keepalive_time_seconds = 0" in from_file.stderr.read()
    assert "logging.level = 'chatty'" in from_env.stderr.read()


def test_a_taken_port_is_a_clear_start_up_failure(environ: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = start({**environ, "DEEPSEEK__SERVER__PORT": str(port)})
        code = process.wait(timeout=30)

    errors = [e for e in log_lines(process) if e["level"] == "ERROR"]
    assert code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in str(errors[0]["message"])
