"""The profile file: TOML that round-trips any value, written with mode 0600."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from deepseek_api.cli._exit import CliError, ExitCode
from deepseek_api.cli._profiles import Profile, ProfileStore, config_dir


def test_profiles_round_trip_through_the_file_with_awkward_characters(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path / "deepseek")
    profiles = {
        "default": Profile("https://api.example", "md_sim", 'se"cr\\et\n\t密'),
        "lab bench": Profile("127.0.0.1:50051", ca_file="/etc/ca.pem"),
    }

    store.save(profiles)

    assert store.load() == profiles
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    assert not store.loosely_protected()
    assert [p.name for p in store.path.parent.iterdir()] == ["config.toml"]


def test_a_file_others_can_read_is_noticed(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path)
    store.save({"default": Profile("h:1")})
    store.path.chmod(0o644)

    assert store.loosely_protected()


def test_a_broken_file_says_how_to_recover(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path)
    store.path.write_text("[profiles.default\n")

    with pytest.raises(CliError) as raised:
        store.load()

    assert raised.value.code == ExitCode.USAGE
    assert "delete it and log in again" in raised.value.message


def test_the_directory_comes_from_the_environment() -> None:
    assert config_dir({"DEEPSEEK_CONFIG_DIR": "/x"}) == Path("/x")
    assert config_dir({"XDG_CONFIG_HOME": "/c", "HOME": "/h"}) == Path("/c/deepseek")
    assert config_dir({"HOME": "/h"}) == Path("/h/.config/deepseek")
