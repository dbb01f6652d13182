"""The platform's limits on a job spec, checked all at once so that every bad field is named."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from deepseek_server.errors import FieldViolation
from deepseek_server.executors.base import Capabilities, GpuType, Partition
from deepseek_server.jobs.model import DEFAULT_TIMEOUT_SECONDS, JOB_ID_PREFIX, JobSpec

MAX_NODES = 1024
MAX_CPUS_PER_NODE = 256
MAX_GPUS_PER_NODE = 8
MAX_MEMORY_GB = 65536
MAX_TIMEOUT_SECONDS = 30 * 86400
MAX_NAME_CHARS = 128
MAX_COMMAND_BYTES = 64 * 1024
MAX_DEPENDENCIES = 100
MAX_ENVIRONMENT_ENTRIES = 256
MAX_ENVIRONMENT_BYTES = 64 * 1024
MAX_ENVIRONMENT_KEY_BYTES = 128
MAX_LABELS = 64
RESERVED_ENVIRONMENT_PREFIX = "DEEPSEEK_"

_ENVIRONMENT_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")
_DATASET_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
_JOB_ID = re.compile(re.escape(JOB_ID_PREFIX) + r"[0-9a-z]{1,64}")

SPEC = "spec"
_Report = Callable[[str, str], None]
RESOURCES = "spec.resource_spec"
# Unicode category Cc is exactly C0, DEL and C1.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_RANGES = (
    # (field path, JobSpec attribute, lowest, highest)
    (f"{RESOURCES}.nodes", "nodes", 1, MAX_NODES),
    (f"{RESOURCES}.cpus_per_node", "cpus_per_node", 0, MAX_CPUS_PER_NODE),
    (f"{RESOURCES}.gpus_per_node", "gpus_per_node", 0, MAX_GPUS_PER_NODE),
    (f"{RESOURCES}.memory_gb", "memory_gb", 0, MAX_MEMORY_GB),
    (f"{SPEC}.timeout", "timeout_seconds", 0, MAX_TIMEOUT_SECONDS),
)


def validate_spec(
    spec: JobSpec, capabilities: Capabilities
) -> tuple[JobSpec, list[FieldViolation]]:
    """Check ``spec`` against the platform limits and what the executor can ever run.

    Returns the spec with defaults filled in (cpus, timeout, GPU type) and every violation found;
    the spec is only meaningful when there are none.
    """
    violations: list[FieldViolation] = []

    def bad(path: str, description: str) -> None:
        violations.append(FieldViolation(path, description))

    _check_name(spec.job_name, bad)
    _check_command(spec.command, bad)
    cpus = spec.cpus_per_node or 1
    timeout = spec.timeout_seconds or DEFAULT_TIMEOUT_SECONDS
    for path, attribute, low, high in _RANGES:
        value = getattr(spec, attribute)
        if not low <= value <= high:
            bad(path, f"must be between {low} and {high}, got {value}")
    gpu_type = _check_gpu_type(spec, capabilities, bad)
    _check_dependencies(spec.dependencies, bad)
    _check_environment(spec.environment, bad)
    _check_labels(spec.labels, bad)

    normalised = JobSpec(
        job_name=spec.job_name,
        command=spec.command,
        nodes=spec.nodes,
        cpus_per_node=cpus,
        gpus_per_node=spec.gpus_per_node,
        gpu_type=gpu_type,
        memory_gb=spec.memory_gb,
        timeout_seconds=timeout,
        dependencies=spec.dependencies,
        environment=dict(spec.environment),
        labels=dict(spec.labels),
    )
    if not violations:
        violations.extend(_check_fits(normalised, capabilities))
    return normalised, violations


def _check_name(name: str, bad: _Report) -> None:
    if not name:
        bad(f"{SPEC}.job_name", "is required")
    elif len(name) > MAX_NAME_CHARS:
        bad(f"{SPEC}.job_name", f"must be at most {MAX_NAME_CHARS} characters, got {len(name)}")
    elif _CONTROL_CHARACTER.search(name):
        bad(f"{SPEC}.job_name", "must not contain control characters")


def _check_command(command: str, bad: _Report) -> None:
    size = len(command.encode("utf-8", "surrogatepass"))
    if not command.strip():
        bad(f"{SPEC}.command", "is required")
    elif size > MAX_COMMAND_BYTES:
        bad(f"{SPEC}.command", f"must be at most {MAX_COMMAND_BYTES} bytes, got {size}")
    elif "\x00" in command:
        bad(f"{SPEC}.command", "must not contain NUL characters")


def _check_gpu_type(spec: JobSpec, capabilities: Capabilities, bad: _Report) -> GpuType | None:
    path = f"{RESOURCES}.gpu_type"
    raw = spec.gpu_type
    if isinstance(raw, GpuType):
        chosen: GpuType | None = raw
    elif not raw:
        chosen = None
    else:
        known = ", ".join(t.value for t in GpuType)
        bad(path, f"unknown GPU type {raw!r}; known types: {known}")
        return None
    if spec.gpus_per_node <= 0:
        if chosen is not None:
            bad(path, "must be unspecified when gpus_per_node is 0")
        return None
    if chosen is None:
        offered = [t for p in capabilities.partitions if p.gpus_per_node for t in p.gpu_types]
        return offered[0] if offered else GpuType.A100
    return chosen


def _check_dependencies(dependencies: tuple[str, ...], bad: _Report) -> None:
    path = f"{SPEC}.dependencies"
    if len(dependencies) > MAX_DEPENDENCIES:
        bad(path, f"at most {MAX_DEPENDENCIES} dependencies, got {len(dependencies)}")
        return
    seen: set[str] = set()
    for index, name in enumerate(dependencies):
        if name in seen:
            bad(f"{path}[{index}]", f"{name!r} is listed twice")
        seen.add(name)
        if name.startswith(JOB_ID_PREFIX):
            if not _JOB_ID.fullmatch(name):
                bad(f"{path}[{index}]", f"{name!r} is not a valid job id")
        elif not _DATASET_NAME.fullmatch(name):
            bad(
                f"{path}[{index}]",
                f"{name!r} is neither a job id (job-...) nor a dataset name "
                "(1-63 characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit)",
            )


def _check_environment(environment: Mapping[str, str], bad: _Report) -> None:
    path = f"{SPEC}.environment"
    if len(environment) > MAX_ENVIRONMENT_ENTRIES:
        bad(path, f"at most {MAX_ENVIRONMENT_ENTRIES} variables, got {len(environment)}")
        return
    total = 0
    for key, value in environment.items():
        total += len(key.encode()) + len(value.encode("utf-8", "surrogatepass"))
        if not _ENVIRONMENT_KEY.fullmatch(key) or len(key) > MAX_ENVIRONMENT_KEY_BYTES:
            bad(
                f"{path}[{key!r}]",
                f"variable names match [A-Za-z_][A-Za-z0-9_]* and have at most "
                f"{MAX_ENVIRONMENT_KEY_BYTES} characters",
            )
        elif key.startswith(RESERVED_ENVIRONMENT_PREFIX):
            bad(
                f"{path}[{key!r}]",
                f"names starting with {RESERVED_ENVIRONMENT_PREFIX} are reserved",
            )
        if "\x00" in value:
            bad(f"{path}[{key!r}]", "values must not contain NUL characters")
    if total > MAX_ENVIRONMENT_BYTES:
        bad(path, f"at most {MAX_ENVIRONMENT_BYTES} bytes in total, got {total}")


def _check_labels(labels: Mapping[str, str], bad: _Report) -> None:
    path = f"{SPEC}.labels"
    if len(labels) > MAX_LABELS:
        bad(path, f"at most {MAX_LABELS} labels, got {len(labels)}")
        return
    for key, value in labels.items():
        if not _LABEL_KEY.fullmatch(key):
            bad(
                f"{path}[{key!r}]",
                "keys are 1-63 characters of a-z, 0-9, '_', '-' starting with a letter",
            )
        if not _LABEL_VALUE.fullmatch(value):
            bad(f"{path}[{key!r}]", "values are 0-63 characters of a-z, 0-9, '_', '-'")


def _check_fits(spec: JobSpec, capabilities: Capabilities) -> list[FieldViolation]:
    """Violations for a spec that no partition of the executor can ever run."""
    partitions = capabilities.partitions
    if any(_fits(spec, p) for p in partitions):
        return []
    executor = capabilities.executor
    # Name each field that no partition can satisfy on its own; if every field fits some
    # partition but none fits them all together, say so about the resource spec as a whole.
    fields: dict[str, str] = {}
    for name, description in _misfits(spec, partitions[0]) if partitions else []:
        if all(any(f == name for f, _ in _misfits(spec, p)) for p in partitions):
            fields[name] = description
    if fields:
        return [
            FieldViolation(name, f"{description} on the {executor} executor")
            for name, description in fields.items()
        ]
    return [
        FieldViolation(
            RESOURCES, f"no partition of the {executor} executor offers all of it at once"
        )
    ]


def _fits(spec: JobSpec, partition: Partition) -> bool:
    """Whether the partition can run the spec; :func:`_misfits` says why not, and agrees."""
    return (
        spec.nodes <= partition.max_nodes
        and spec.cpus_per_node <= partition.cpus_per_node
        and spec.memory_gb <= partition.memory_gb_per_node
        and spec.gpus_per_node <= partition.gpus_per_node
        and (not spec.gpus_per_node or spec.gpu_type in partition.gpu_types)
        and spec.timeout_seconds <= partition.max_timeout_seconds
    )


def _misfits(spec: JobSpec, partition: Partition) -> list[tuple[str, str]]:
    misfits = []
    where = f"partition {partition.name!r}"
    if spec.nodes > partition.max_nodes:
        misfits.append((f"{RESOURCES}.nodes", f"{where} has at most {partition.max_nodes} nodes"))
    if spec.cpus_per_node > partition.cpus_per_node:
        misfits.append(
            (f"{RESOURCES}.cpus_per_node", f"{where} has {partition.cpus_per_node} CPUs per node")
        )
    if spec.memory_gb > partition.memory_gb_per_node:
        misfits.append(
            (f"{RESOURCES}.memory_gb", f"{where} has {partition.memory_gb_per_node} GiB per node")
        )
    if spec.gpus_per_node > partition.gpus_per_node:
        misfits.append(
            (f"{RESOURCES}.gpus_per_node", f"{where} has {partition.gpus_per_node} GPUs per node")
        )
    elif spec.gpus_per_node and spec.gpu_type not in partition.gpu_types:
        offered = ", ".join(t.value for t in partition.gpu_types) or "none"
        misfits.append((f"{RESOURCES}.gpu_type", f"{where} offers GPU types: {offered}"))
    if spec.timeout_seconds > partition.max_timeout_seconds:
        misfits.append(
            (f"{SPEC}.timeout", f"{where} allows at most {partition.max_timeout_seconds} s")
        )
    return misfits
