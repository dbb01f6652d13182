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

    @property
    def uploads_dir(self) -> Path:
        """Part files of uploads in progress; on the same filesystem as the jobs and datasets."""
        return self.state_dir / "uploads"

    @property
    def datasets_dir(self) -> Path:
        """The files of every dataset, ``<owner>/<name>/<path>``."""
        return self.state_dir / "datasets"


@dataclass(frozen=True, slots=True)
class ExecutorSettings:
    """Where jobs run. The embedded default is ``local``: processes on this machine."""

    kind: str = _setting(
        "local",
        "The executor: local (processes on this machine) or slurm (a Slurm cluster; see [slurm]).",
        choices=("local", "slurm"),
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
class SlurmSettings:
    """The Slurm cluster jobs run on when ``executor.kind`` is ``slurm``.

    The state directory must be on the cluster's shared filesystem: jobs run in their working
    directories there and write their logs there.
    """

    partition: str = _setting(
        "", "Partition of every job (and whose nodes bound what a job may ask); empty: default."
    )
    account: str = _setting("", "Account jobs are charged to in Slurm; empty: the user's default.")
    qos: str = _setting("", "Quality of service of every job; empty: the account's default.")
    slurm_conf: str = _setting(
        "", "SLURM_CONF for the Slurm commands; empty: Slurm's default (/etc/slurm/slurm.conf)."
    )
    bin_dir: str = _setting("", "Directory of sbatch, squeue, sacct...; empty: found on PATH.")
    poll_interval_seconds: float = _setting(
        1.0, "Time between two status polls (one squeue for all jobs).", min=0.05, max=300
    )
    submit_concurrency: int = _setting(
        8, "sbatch processes run at once when many jobs are submitted.", min=1, max=256
    )
    command_timeout_seconds: float = _setting(
        60.0, "Longest time one Slurm command may take before it is killed.", min=1, max=3600
    )


@dataclass(frozen=True, slots=True)
class DataSettings:
    """File uploads, downloads and datasets: their limits and timeouts."""

    max_chunk_bytes: int = _setting(
        4 * MIB, "Largest chunk of an upload or a download.", min=1024, max=64 * MIB
    )
    ack_every_bytes: int = _setting(
        8 * MIB,
        "Bytes committed (fsync'd) between two upload acknowledgements; at most 8 MiB.",
        min=64 * 1024,
        max=8 * MIB,
    )
    upload_window_bytes: int = _setting(
        64 * MIB,
        "Bytes a client may send beyond the committed size before it waits for an "
        "acknowledgement (told in the first answer); at least ack_every_bytes + "
        "max_chunk_bytes. Larger keeps long links busy and costs resending after a break; "
        "the gateway holds a few chunks per stream in memory whatever it is.",
        min=128 * 1024,
        max=1024 * MIB,
    )
    max_file_bytes: int = _setting(
        256 * 1024 * MIB, "Largest file an upload may declare.", min=0, max=2**62
    )
    storage_quota_bytes: int = _setting(
        1024 * 1024 * MIB,
        "Bytes each user may store: finished files plus the declared size of active uploads.",
        min=0,
        max=2**62,
    )
    upload_expiry_seconds: float = _setting(
        86_400.0,
        "An upload not finished this long after its last committed chunk expires.",
        min=1,
        max=365 * 86_400,
    )
    upload_retention_seconds: float = _setting(
        7 * 86_400.0,
        "How long an ended upload (finished, expired, cancelled, failed) stays known to "
        "GetUploadStatus and to starts with its request_id before its record is deleted.",
        min=1,
        max=10 * 365 * 86_400,
    )
    idle_timeout_seconds: float = _setting(
        60.0, "An upload stream with no message for this long is closed.", min=0.1, max=86_400
    )
    drop_cache_behind: bool = _setting(
        True,
        "Evict a file's pages from the page cache once an upload made them durable or a "
        "download read them (files stream through once); false keeps them cached.",
    )


# What a chunk message carries besides its data (offset, CRC32C, framing), with room to spare.
CHUNK_MESSAGE_OVERHEAD = 64 * 1024


@dataclass(frozen=True, slots=True)
class AccountSettings:
    """Default quotas per user (-1: unlimited; administrators override per user) and prices.

    Prices are integer minor units of ``currency`` per unit per second; a job is billed its
    allocation (nodes x (cores, GiB of memory, GPUs)) x wall-clock seconds x price.
    """

    concurrent_jobs: int = _setting(50, "QUEUED plus RUNNING jobs per user.", min=-1, max=10**9)
    nodes: int = _setting(-1, "Nodes a user's active jobs may hold at once.", min=-1, max=10**9)
    gpus: int = _setting(-1, "GPUs a user's active jobs may hold at once.", min=-1, max=10**9)
    monthly_budget: int = _setting(
        -1,
        "Spending per calendar month (UTC) incl. holds of active jobs, minor units.",
        min=-1,
        max=2**62,
    )
    alert_thresholds: str = _setting(
        "80,100", "Percentages of a limit whose crossing (up or down) raises a quota alert."
    )
    currency: str = _setting("CNY", "ISO 4217 code of all prices and charges.")
    price_core_second: int = _setting(1, "Price of one CPU core for one second.", min=0, max=10**9)
    price_memory_gb_second: int = _setting(
        0, "Price of one GiB of memory for one second.", min=0, max=10**9
    )
    price_a100_second: int = _setting(20, "Price of one A100 GPU for one second.", min=0, max=10**9)
    price_h100_second: int = _setting(40, "Price of one H100 GPU for one second.", min=0, max=10**9)

    @property
    def thresholds(self) -> tuple[int, ...]:
        """The alert thresholds as numbers."""
        return tuple(int(part) for part in self.alert_thresholds.split(",") if part.strip())


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """Access tokens (OAuth2 client credentials, JWT) and per-client rate limits."""

    required: bool = _setting(
        True,
        "Require an access token on every call but health, reflection and AuthService; "
        "false: every call acts as the local user, without rate limits.",
    )
    issuer: str = _setting("deepseek-hpc-gateway", "The iss claim of the tokens issued.")
    audience: str = _setting("deepseek-hpc", "The aud claim tokens are issued for and must carry.")
    token_lifetime_seconds: int = _setting(
        3600, "How long an access token is valid.", min=60, max=86_400
    )
    leeway_seconds: int = _setting(
        30, "Clock skew tolerated when checking exp, nbf and iat.", min=0, max=300
    )
    algorithm: str = _setting(
        "ES256",
        "Algorithm of new signing keys (keys rotate with 'keys rotate').",
        choices=("ES256", "RS256"),
    )
    requests_per_second: float = _setting(
        200.0, "Sustained request rate per client (token bucket refill).", min=0.001, max=1e9
    )
    burst: int = _setting(
        400, "Requests a client may make at once after being idle (bucket size).", min=1, max=10**9
    )
    max_concurrent_streams: int = _setting(
        100, "Streaming calls one client may have open at once.", min=1, max=1_000_000
    )


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """TLS for the listener; plaintext when no certificate is set (the local default)."""

    cert_file: str = _setting("", "PEM server certificate chain; empty: plaintext.")
    key_file: str = _setting("", "PEM private key of the server certificate.")
    client_ca_file: str = _setting(
        "", "PEM CA certificates; when set, clients must present a certificate they signed (mTLS)."
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
class AuditSettings:
    """The audit log: one hash-chained record per call and per system action."""

    enabled: bool = _setting(True, "Record every call and system action in the audit log.")
    mode: str = _setting(
        "sync",
        "sync: a call's record is committed before its response is sent; async: queued, "
        "committed shortly after (lower latency; a crash loses what is queued).",
        choices=("sync", "async"),
    )
    async_buffer_records: int = _setting(
        10_000,
        "async mode: records queued at most; calls wait when it is full, none is dropped.",
        min=1,
        max=10_000_000,
    )
    checkpoint_every_records: int = _setting(
        1000, "Sign the head of the chain after this many records.", min=1, max=100_000_000
    )
    checkpoint_every_seconds: float = _setting(
        60.0,
        "...or after this many seconds, when records were added since the last checkpoint.",
        min=0.01,
        max=86_400,
    )


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of the gateway, grouped by section."""

    server: ServerSettings = field(default_factory=ServerSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)
    slurm: SlurmSettings = field(default_factory=SlurmSettings)
    data: DataSettings = field(default_factory=DataSettings)
    accounts: AccountSettings = field(default_factory=AccountSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    tls: TlsSettings = field(default_factory=TlsSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    audit: AuditSettings = field(default_factory=AuditSettings)


def check_consistency(settings: Settings) -> None:
    """Raise :class:`ConfigError` for settings that are each valid but do not fit together."""
    try:
        thresholds = settings.accounts.thresholds
    except ValueError:
        thresholds = ()
    if not thresholds or any(not 1 <= t <= 100 for t in thresholds):
        raise ConfigError(
            f"invalid setting accounts.alert_thresholds = {settings.accounts.alert_thresholds!r}: "
            "expected comma-separated percentages from 1 to 100, e.g. '80,100'"
        )
    tls = settings.tls
    if bool(tls.cert_file) != bool(tls.key_file):
        raise ConfigError("invalid settings tls.cert_file / tls.key_file: set both or neither")
    if tls.client_ca_file and not tls.cert_file:
        raise ConfigError("invalid setting tls.client_ca_file: mTLS needs tls.cert_file too")
    data = settings.data
    if data.upload_window_bytes < data.ack_every_bytes + data.max_chunk_bytes:
        raise ConfigError(
            f"invalid setting data.upload_window_bytes = {data.upload_window_bytes}: must be at "
            f"least data.ack_every_bytes + data.max_chunk_bytes = "
            f"{data.ack_every_bytes + data.max_chunk_bytes}, or a client would wait for an "
            "acknowledgement that comes only after more data"
        )
    needed = settings.data.max_chunk_bytes + CHUNK_MESSAGE_OVERHEAD
    for name in ("max_receive_message_bytes", "max_send_message_bytes"):
        limit = getattr(settings.server, name)
        if limit < needed:
            raise ConfigError(
                f"invalid setting server.{name} = {limit}: must be at least "
                f"data.max_chunk_bytes + {CHUNK_MESSAGE_OVERHEAD} = {needed}, or chunks of "
                "the largest allowed size could not be sent"
            )


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
    settings = Settings(**built)
    check_consistency(settings)
    return settings


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
