"""The configuration file: named profiles of an endpoint and the credentials to use there.

The file is ``config.toml`` in ``$DEEPSEEK_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/deepseek``,
else ``~/.config/deepseek``::

    [profiles.default]
    endpoint = "https://api.deepseek.supercomp.cn"
    client_id = "md_sim_client"
    client_secret = "..."

It holds secrets, so it is written with mode 0600 in a directory with mode 0700, atomically
(a crash never leaves half a file), and a file others can read is reported.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from deepseek_api.cli._exit import CliError, ExitCode

DEFAULT_PROFILE = "default"
CONFIG_FILE_NAME = "config.toml"
_FILE_MODE = 0o600
_DIR_MODE = 0o700


@dataclass(frozen=True)
class Profile:
    """Where to connect and as whom.

    Attributes:
        endpoint: The gateway, as ``DeepSeekClient`` takes it.
        client_id: The API client's id; None for a gateway without authentication.
        client_secret: The API client's secret; None with ``client_id``.
        ca_file: PEM file of the roots to verify the gateway's certificate with; None
            for the default roots.
    """

    endpoint: str
    client_id: str | None = None
    client_secret: str | None = None
    ca_file: str | None = None

    @property
    def credentials(self) -> dict[str, str] | None:
        """The SDK's ``credentials`` mapping, or None without credentials."""
        if self.client_id is None or self.client_secret is None:
            return None
        return {"client_id": self.client_id, "client_secret": self.client_secret}


def config_dir(environ: Mapping[str, str]) -> Path:
    """The configuration directory that ``environ`` selects."""
    explicit = environ.get("DEEPSEEK_CONFIG_DIR")
    if explicit:
        return Path(explicit)
    xdg = environ.get("XDG_CONFIG_HOME")
    base = Path(xdg) if xdg else Path(environ.get("HOME") or Path.home()) / ".config"
    return base / "deepseek"


class ProfileStore:
    """The profiles of one configuration file."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / CONFIG_FILE_NAME

    def load(self) -> dict[str, Profile]:
        """Every profile, by name; none when there is no file yet.

        Raises:
            CliError: if the file cannot be read or is not a valid profile file.
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as err:
            raise CliError(f"cannot read {self.path}: {err.strerror}", ExitCode.USAGE) from err
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise CliError(
                f"{self.path}: {err} — fix the file, or delete it and log in again",
                ExitCode.USAGE,
            ) from err
        sections = document.get("profiles", {})
        if not isinstance(sections, dict):
            raise CliError(f"{self.path}: 'profiles' must be a table", ExitCode.USAGE)
        return {name: self._profile(name, body) for name, body in sections.items()}

    def loosely_protected(self) -> bool:
        """Whether the file exists and users other than its owner may read or write it."""
        try:
            mode = self.path.stat().st_mode
        except OSError:
            return False
        return bool(mode & (stat.S_IRWXG | stat.S_IRWXO))

    def save(self, profiles: Mapping[str, Profile]) -> None:
        """Replace the file with these profiles, mode 0600, in a directory with mode 0700."""
        directory = self.path.parent
        directory.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
        os.chmod(directory, _DIR_MODE)
        descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".config-", suffix=".tmp")
        try:
            # mkstemp creates the file with mode 0600 already; being explicit costs nothing.
            os.fchmod(descriptor, _FILE_MODE)
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(render(profiles))
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _profile(self, name: str, body: object) -> Profile:
        if not isinstance(body, dict) or not isinstance(body.get("endpoint"), str):
            raise CliError(
                f"{self.path}: profile {name!r} needs an endpoint — "
                f"run `deepseek login --profile {name}` again",
                ExitCode.USAGE,
            )
        known = {key: body[key] for key in ("client_id", "client_secret", "ca_file") if key in body}
        return Profile(endpoint=body["endpoint"], **known)


def render(profiles: Mapping[str, Profile]) -> str:
    """The TOML text of a configuration file holding ``profiles``."""
    lines = ["# Profiles of the deepseek command line, written by `deepseek login`.", ""]
    for name, profile in sorted(profiles.items()):
        lines.append(f"[profiles.{_toml_string(name)}]")
        for key, value in asdict(profile).items():
            if value is not None:
                lines.append(f"{key} = {_toml_string(value)}")
        lines.append("")
    return "\n".join(lines)


def _toml_string(value: str) -> str:
    # JSON string escapes are a subset of TOML basic-string escapes.
    return json.dumps(value, ensure_ascii=False)
