"""What every command gets: the output, the chosen profile, and a client made from them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import deepseek_api as ds
from deepseek_api.cli._exit import CliError, ExitCode, Situation
from deepseek_api.cli._output import Output
from deepseek_api.cli._profiles import DEFAULT_PROFILE, Profile, ProfileStore, config_dir

USER_AGENT = f"deepseek-cli/{ds.__version__}"


@dataclass(frozen=True)
class Settings:
    """The command line's settings, read once from the environment and global options.

    Attributes:
        config_dir: Directory of ``config.toml``.
        profile: The profile named by ``--profile`` or ``$DEEPSEEK_PROFILE``; None when
            neither names one (then ``"default"`` is used if it exists).
        endpoint: ``--endpoint``: connect here instead of the profile's endpoint.
        timeout: Seconds each call may take.
    """

    config_dir: Path
    profile: str | None
    endpoint: str | None
    timeout: float

    @classmethod
    def from_environment(
        cls,
        environ: Mapping[str, str],
        *,
        profile: str | None,
        endpoint: str | None,
        timeout: float,
    ) -> Settings:
        """Settings from the environment, with the global options taking precedence."""
        return cls(
            config_dir=config_dir(environ),
            profile=profile or environ.get("DEEPSEEK_PROFILE") or None,
            endpoint=endpoint,
            timeout=timeout,
        )


@dataclass(frozen=True)
class Context:
    """A command's environment.

    Attributes:
        out: Where results and notes go.
        stdin: Where secrets piped with ``--client-secret-stdin`` come from.
        settings: Configuration directory, profile and endpoint choices.
    """

    out: Output
    stdin: TextIO
    settings: Settings

    @property
    def store(self) -> ProfileStore:
        """The configuration file."""
        return ProfileStore(self.settings.config_dir)

    @property
    def profile_name(self) -> str:
        """The profile the command acts on: the one named, else ``"default"``."""
        return self.settings.profile or DEFAULT_PROFILE

    def connection(self) -> tuple[Profile, Situation]:
        """The profile to connect with (``--endpoint`` applied) and its description.

        Raises:
            CliError: if the profile named does not exist, or nothing says where to connect.
        """
        store = self.store
        if store.loosely_protected():
            self.out.note(
                f"warning: {store.path} holds secrets but others may read it; "
                f"run `chmod 600 {store.path}`"
            )
        profiles = store.load()
        profile = profiles.get(self.profile_name)
        endpoint = self.settings.endpoint
        if profile is not None:
            if endpoint is not None:
                profile = Profile(
                    endpoint, profile.client_id, profile.client_secret, profile.ca_file
                )
            named = self.profile_name if profile.credentials else None
            return profile, Situation(profile.endpoint, named)
        if self.settings.profile is None and endpoint is not None:
            return Profile(endpoint), Situation(endpoint)
        raise CliError(_missing_profile(self.profile_name, sorted(profiles)), ExitCode.USAGE)

    def client(self) -> tuple[ds.DeepSeekClient, Situation]:
        """A connected client (it connects lazily) and what it connects to.

        Raises:
            CliError: as :meth:`connection`, or for a malformed endpoint or CA file.
        """
        profile, situation = self.connection()
        return connect(profile, self.settings.timeout), situation


def connect(profile: Profile, timeout: float) -> ds.DeepSeekClient:
    """A client for ``profile``.

    Raises:
        CliError: for a malformed endpoint, or a CA file that cannot be read.
    """
    tls = None
    if profile.ca_file is not None:
        try:
            tls = ds.TlsConfig(root_certificates=Path(profile.ca_file).read_bytes())
        except OSError as err:
            raise CliError(
                f"cannot read the CA file {profile.ca_file}: {err.strerror} — "
                "fix the path with `deepseek login --ca-file PATH`",
                ExitCode.USAGE,
            ) from err
    try:
        return ds.DeepSeekClient(
            profile.endpoint,
            profile.credentials,
            tls=tls,
            options=ds.ChannelOptions(user_agent=USER_AGENT),
            timeout=timeout,
        )
    except ValueError as err:
        raise CliError(f"{err} — fix --endpoint", ExitCode.USAGE) from err


def _missing_profile(name: str, known: list[str]) -> str:
    if name == DEFAULT_PROFILE and not known:
        return (
            "not logged in — run `deepseek login --endpoint URL --client-id ID`, "
            "or pass --endpoint URL for a gateway without authentication"
        )
    listed = f" (profiles: {', '.join(known)})" if known else ""
    return (
        f"no profile {name!r}{listed} — pick one with --profile, or create it with "
        f"`deepseek login --profile {name} --endpoint URL --client-id ID`"
    )
