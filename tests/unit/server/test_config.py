"""Settings: defaults, file, environment, and the message a bad value gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepseek_server.config import ConfigError, Settings, describe_settings, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_embedded_defaults_serve_localhost_50051_with_state_in_var() -> None:
    settings = load_settings(None, environ={})

    assert settings == Settings()
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 50051)
    assert settings.server.reflection is True
    assert settings.storage.database_path == Path("var/gateway.db")


def test_file_values_override_defaults_and_environment_overrides_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[server]\nport = 6000\ngrace_period_seconds = 3\n[logging]\nlevel = "debug"\n'
        '[storage]\nstate_dir = "/srv/gw"\n',
    )

    settings = load_settings(
        path, environ={"DEEPSEEK__SERVER__PORT": "7000", "DEEPSEEK__SERVER__REFLECTION": "off"}
    )

    assert settings.server.port == 7000
    assert settings.server.grace_period_seconds == 3.0
    assert settings.server.reflection is False
    assert settings.logging.level == "DEBUG"
    assert settings.storage.database_path == Path("/srv/gw/gateway.db")


def test_unrelated_environment_variables_are_ignored() -> None:
    assert load_settings(None, environ={"DEEPSEEK_ENDPOINT": "x", "PATH": "/bin"}) == Settings()


@pytest.mark.parametrize(
    ("text", "environ", "expected"),
    [
        ("[server]\nprot = 1\n", {}, r"unknown setting server\.prot .*did you mean server\.port\?"),
        ("[sever]\nport = 1\n", {}, r"unknown settings section 'sever'; did you mean server\?"),
        ("[server]\nport = 70000\n", {}, r"server\.port = 70000 .*between 0 and 65535"),
        ('[server]\nport = "80"\n', {}, r"server\.port = '80' .*expected a whole number"),
        ("[server]\nport = true\n", {}, r"server\.port = True .*expected a whole number"),
        ("[server]\nreflection = 1\n", {}, r"server\.reflection = 1 .*expected true or false"),
        ('[logging]\nlevel = "loud"\n', {}, r"logging\.level = 'loud' .*one of DEBUG, INFO"),
        ("server = 1\n", {}, r"'server' must be a \[section\] table"),
        ("[server\n", {}, r"is not valid TOML"),
        ("", {"DEEPSEEK__SERVER__PORT": "eighty"}, r"environment variable DEEPSEEK__SERVER__PORT"),
        ("", {"DEEPSEEK__PORT": "1"}, r"expected DEEPSEEK__<SECTION>__<KEY>"),
        ("", {"DEEPSEEK__SERVER__GRACE_PERIOD_SECONDS": "-1"}, r"between 0 and 3600"),
        ("[data]\nupload_retention_seconds = 0\n", {}, r"data\.upload_retention_seconds = 0 "),
        (
            "[data]\nmax_chunk_bytes = 8388608\nupload_window_bytes = 16777215\n",
            {},
            r"data\.upload_window_bytes = 16777215: must be at least .* = 16777216",
        ),
    ],
)
def test_a_bad_setting_is_refused_with_a_message_naming_it(
    tmp_path: Path, text: str, environ: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_settings(write(tmp_path, text), environ=environ)


def test_a_missing_settings_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"settings file .*nope\.toml does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_every_setting_is_described() -> None:
    rows = describe_settings()

    assert rows[1][:2] == ("server.port", "50051")
    assert all(help_text for _, _, help_text in rows)
