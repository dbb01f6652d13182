"""``deepseek login``, ``profiles`` and ``logout``: credentials checked, then kept safe."""

from __future__ import annotations

import json
import stat
import tomllib
from pathlib import Path

from deepseek_server.app import Gateway
from tests.integration.cli.conftest import Deepseek


def mode_of(path: Path) -> int:
    """The permission bits of a file or directory."""
    return stat.S_IMODE(path.stat().st_mode)


async def test_login_checks_the_secret_then_saves_it_readable_only_by_the_user(
    deepseek: Deepseek, gateway: Gateway, api_client: tuple[str, str], config_dir: Path
) -> None:
    client_id, secret = api_client

    result = await deepseek(
        "login",
        "--endpoint",
        gateway.address,
        "--client-id",
        client_id,
        "--client-secret-stdin",
        stdin=f"{secret}\n",
    )

    assert result.code == 0, result.err
    assert (
        f"Logged in to {gateway.address} as {client_id}; saved as profile 'default'." in result.out
    )
    config = config_dir / "config.toml"
    assert (mode_of(config), mode_of(config_dir)) == (0o600, 0o700)
    saved = tomllib.loads(config.read_text())["profiles"]["default"]
    assert saved == {"endpoint": gateway.address, "client_id": client_id, "client_secret": secret}
    assert secret not in result.out + result.err
    listed = await deepseek("jobs", "list")
    assert (listed.code, listed.out, listed.err) == (0, "", "No jobs found.\n")


async def test_a_wrong_secret_is_refused_and_nothing_is_saved(
    deepseek: Deepseek, gateway: Gateway, api_client: tuple[str, str], config_dir: Path
) -> None:
    client_id, _ = api_client

    result = await deepseek(
        "login",
        "--endpoint",
        gateway.address,
        "--client-id",
        client_id,
        "--client-secret-stdin",
        stdin="not-the-secret\n",
    )

    assert result.code == 4
    assert result.out == ""
    assert result.err.startswith(
        f"deepseek: error: the gateway refused the credentials of client {client_id!r}"
    )
    assert "check the client id and secret; nothing was saved" in result.err
    assert not (config_dir / "config.toml").exists()


async def test_profiles_are_listed_without_secrets_and_selected_by_option_or_environment(
    deepseek: Deepseek,
    gateway: Gateway,
    api_client: tuple[str, str],
    logged_in: str,
    monkeypatch: object,
) -> None:
    client_id, secret = api_client
    second = await deepseek(
        "login",
        "--profile",
        "lab",
        "--endpoint",
        gateway.address,
        "--client-id",
        client_id,
        "--client-secret-stdin",
        stdin=secret,
    )
    assert second.code == 0, second.err

    listed = await deepseek("profiles")
    as_json = await deepseek("profiles", "--json", "--profile", "lab")

    assert listed.code == 0
    assert listed.out.splitlines() == [
        "  PROFILE  ENDPOINT" + " " * (len(gateway.address) - 6) + "CLIENT ID",
        f"* default  {gateway.address}  {client_id}",
        f"  lab      {gateway.address}  {client_id}",
    ]
    assert secret not in listed.out + as_json.out
    assert json.loads(as_json.out) == [
        {
            "name": "default",
            "endpoint": gateway.address,
            "client_id": client_id,
            "ca_file": None,
            "current": False,
        },
        {
            "name": "lab",
            "endpoint": gateway.address,
            "client_id": client_id,
            "ca_file": None,
            "current": True,
        },
    ]
    logout = await deepseek("logout")
    assert (logout.code, logout.out) == (0, "Deleted profile 'default'.\n")
    not_logged_in = await deepseek("jobs", "list")
    assert not_logged_in.code == 2
    assert "no profile 'default' (profiles: lab)" in not_logged_in.err
    assert (await deepseek("jobs", "list", "--profile", "lab")).code == 0


async def test_commands_before_login_say_how_to_log_in(deepseek: Deepseek) -> None:
    result = await deepseek("jobs", "list")

    assert result.code == 2
    assert result.err == (
        "deepseek: error: not logged in — run `deepseek login --endpoint URL --client-id ID`, "
        "or pass --endpoint URL for a gateway without authentication\n"
    )


async def test_login_without_a_terminal_asks_for_the_secret_on_stdin(
    deepseek: Deepseek, gateway: Gateway
) -> None:
    result = await deepseek("login", "--endpoint", gateway.address, "--client-id", "someone")

    assert result.code == 2
    assert "pipe it in with --client-secret-stdin" in result.err


async def test_a_gateway_that_cannot_be_reached_exits_7_and_says_where(
    deepseek: Deepseek, logged_in: str
) -> None:
    result = await deepseek("jobs", "list", "--endpoint", "127.0.0.1:1", "--timeout", "3")

    assert result.code == 7, result.err
    assert "UNAVAILABLE" in result.err
    assert "cannot reach the gateway at 127.0.0.1:1" in result.err


async def test_an_endpoint_without_a_profile_connects_without_credentials(
    deepseek: Deepseek, gateway: Gateway
) -> None:
    result = await deepseek("jobs", "list", "--endpoint", gateway.address)

    assert result.code == 4
    assert result.err.startswith("deepseek: error: UNAUTHENTICATED: ")
    assert result.err.endswith(" — log in with `deepseek login --endpoint URL --client-id ID`\n")
