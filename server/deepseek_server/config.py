"""Gateway settings: frozen dataclasses built once at start-up.

Settings come from, in increasing precedence: the defaults below, a TOML file, and environment
variables named ``DEEPSEEK__<SECTION>__<KEY>`` (for example ``DEEPSEEK__SERVER__PORT=0``). Nothing
else in the server reads the environment; the built :class:`Settings` is passed down.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "DEEPSEEK__"
MIB = 1024 * 1024


class ConfigError(ValueError):
    """A setting is unknown, malformed or out of range; the message names it."""


def _setting(
    default: Any,
    help: str,
    *,
    min: float | None = None,
    max: float | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    return field(
        default=default, metadata={"help": help, "min": min, "max": max, "choices": choices}
    )


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """The gRPC listener and its transport limits."""

    host: str = _setting("127.0.0.1", "Address to listen on; '0.0.0.0' or '::' for all.")
    port: int = _setting(50051, "TCP port; 0 picks a free one (logged at start).", min=0, max=65535)
    grace_period_seconds: float = _setting(
        10.0, "How long in-flight calls may drain after SIGTERM/SIGINT.", min=0, max=3600
    )
    max_receive_message_bytes: int = _setting(
        16 * MIB, "Largest message accepted from a client.", min=1024, max=1024 * MIB
    )
    max_send_message_bytes: int = _setting(
        16 * MIB, "Largest message sent to a client.", min=1024, max=1024 * MIB
    )
    max_concurrent_streams: int = _setting(
        1000, "HTTP/2 streams one connection may have open at once.", min=1, max=100_000
    )
    keepalive_time_seconds: float = _setting(
        60.0, "Idle time after which the server pings a connection.", min=1, max=86_400
    )
    keepalive_timeout_seconds: float = _setting(
        20.0,
        "How long a keepalive ping may go unanswered before the connection is closed.",
        min=1,
        max=3600,
    )
    min_client_ping_interval_seconds: float = _setting(
        10.0,
        "Shortest interval between client pings that the server tolerates.",
        min=1,
        max=3600,
    )
    reflection: bool = _setting(True, "Serve gRPC server reflection (grpcurl list/describe).")


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """Where state lives: one directory holds the database and the data."""

    state_dir: Path = _setting(Path("var"), "Directory holding all gateway state.")
    database: str = _setting("", "SQLite database file; empty means <state_dir>/gateway.db.")
    synchronous: str = _setting(
        "NORMAL",
        "SQLite durability: NORMAL (WAL default) or FULL (fsync every commit).",
        choices=("NORMAL", "FULL"),
    )

    @property
    def database_path(self) -> Path:
        """The SQLite file the gateway opens."""
        return Path(self.database) if self.database else self.state_dir / "gateway.db"

    @property
    def jobs_dir(self) -> Path:
        """Where each job's directory (inputs, working directory, logs) lives."""
        return self.state_dir / "jobs"


@dataclass(frozen=True, slots=True)
class ExecutorSettings:
    """Where jobs run. The embedded default is ``local``: processes on this machine."""

    kind: str = _setting(
        "local", "The executor: local (processes on this machine).", choices=("local",)
    )
    cpus: int = _setting(
        0, "CPUs jobs may use at once; 0 means every CPU of this machine.", min=0, max=1_000_000
    )
    memory_gb: int = _setting(
        0,
        "Memory (GiB) jobs may reserve at once; 0 means this machine's total.",
        min=0,
        max=1_000_000,
    )
    gpus: int = _setting(
        0, "GPUs jobs may use at once (handed out as CUDA_VISIBLE_DEVICES).", min=0, max=64
    )
    gpu_type: str = _setting("A100", "The model of those GPUs.", choices=("A100", "H100"))
    kill_grace_seconds: float = _setting(
        10.0,
        "Time between SIGTERM and SIGKILL when a job is cancelled or times out.",
        min=0,
        max=3600,
    )
    job_path: str = _setting(
        "/usr/local/bin:/usr/bin:/bin", "PATH of every job (before the job's own environment)."
    )


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    """Structured logs on standard error."""

    level: str = _setting(
        "INFO", "Lowest level logged.", choices=("DEBUG", "INFO", "WARNING", "ERROR")
    )
    format: str = _setting(
        "json", "One JSON object per line, or plain text.", choices=("json", "text")
    )


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of the gateway, grouped by section."""

    server: ServerSettings = field(default_factory=ServerSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from defaults, then the TOML file at ``path``, then the environment.

    Raises :class:`ConfigError` naming the first bad setting and where it came from.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, dict[str, tuple[Any, str]]] = {}
    if path is not None:
        for section, key, value in _read_toml(path):
            values.setdefault(section, {})[key] = (value, str(path))
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        section, sep, key = name[len(ENV_PREFIX) :].lower().partition("__")
        if not sep:
            raise ConfigError(f"environment variable {name}: expected {ENV_PREFIX}<SECTION>__<KEY>")
        values.setdefault(section, {})[key] = (raw, f"environment variable {name}")
    return _build(values)


def describe_settings() -> list[tuple[str, str, str]]:
    """(name, default, help) of every setting, for ``--help`` style listings."""
    rows = []
    for section in dataclasses.fields(Settings):
        for item in dataclasses.fields(_section_type(section)):
            default = item.default
            rows.append((f"{section.name}.{item.name}", repr(default), item.metadata["help"]))
    return rows


def _read_toml(path: Path) -> list[tuple[str, str, Any]]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"settings file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"settings file {path} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"settings file {path} is not valid TOML: {exc}") from None
    entries: list[tuple[str, str, Any]] = []
    for section, table in document.items():
        if not isinstance(table, dict):
            raise ConfigError(
                f"settings file {path}: '{section}' must be a [section] table, got a value"
            )
        entries.extend((section, key, value) for key, value in table.items())
    return entries


def _section_type(section: dataclasses.Field[Any]) -> type:
    hints = typing.get_type_hints(Settings)
    section_type: type = hints[section.name]
    return section_type


def _build(values: dict[str, dict[str, tuple[Any, str]]]) -> Settings:
    sections = {item.name: item for item in dataclasses.fields(Settings)}
    for section in values:
        if section not in sections:
            raise ConfigError(f"unknown settings section '{section}'{_suggest(section, sections)}")
    built: dict[str, Any] = {}
    for name, section_field in sections.items():
        section_type = _section_type(section_field)
        hints = typing.get_type_hints(section_type)
        known = {item.name: item for item in dataclasses.fields(section_type)}
        kwargs: dict[str, Any] = {}
        for key, (raw, origin) in values.get(name, {}).items():
            if key not in known:
                raise ConfigError(
                    f"unknown setting {name}.{key} ({origin}){_suggest(key, known, name + '.')}"
                )
            kwargs[key] = _validate(f"{name}.{key}", raw, hints[key], known[key].metadata, origin)
        built[name] = section_type(**kwargs)
    return Settings(**built)


def _suggest(word: str, options: Mapping[str, object], prefix: str = "") -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f"; did you mean {prefix}{close[0]}?" if close else ""


def _validate(name: str, raw: Any, kind: Any, meta: Mapping[str, Any], origin: str) -> Any:
    value = _coerce(name, raw, kind, origin)
    low, high, choices = meta["min"], meta["max"], meta["choices"]
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(
            f"invalid setting {name} = {raw!r} ({origin}): must be between {low:g} and {high:g}"
        )
    if choices is not None:
        value = value.upper() if all(c.isupper() for c in choices) else value.lower()
        if value not in choices:
            raise ConfigError(
                f"invalid setting {name} = {raw!r} ({origin}): must be one of {', '.join(choices)}"
            )
    return value


def _coerce(name: str, raw: Any, kind: Any, origin: str) -> Any:
    def bad(expected: str) -> ConfigError:
        return ConfigError(f"invalid setting {name} = {raw!r} ({origin}): expected {expected}")

    from_env = isinstance(raw, str) and origin.startswith("environment")
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if from_env and raw.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return raw.lower() in ("1", "true", "yes", "on")
        raise bad("true or false")
    if kind is int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if from_env:
            try:
                return int(raw.replace("_", ""))
            except ValueError:
                pass
        raise bad("a whole number")
    if kind is float:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return float(raw)
        if from_env:
            try:
                return float(raw)
            except ValueError:
                pass
        raise bad("a number")
    if kind is str or kind is Path:
        if not isinstance(raw, str):
            raise bad("a string")
        if "\x00" in raw:
            raise bad("a string without NUL characters")
        return Path(raw) if kind is Path else raw
    if isinstance(kind, types.UnionType):  # pragma: no cover - no optional settings yet
        raise bad(str(kind))
    raise AssertionError(f"setting {name} has unsupported type {kind!r}")
