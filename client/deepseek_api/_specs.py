"""Job specs from the platform guide's JSON shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format

from deepseek.hpc.v1 import job_pb2

JobSpecLike = job_pb2.JobSpec | Mapping[str, Any]
"""A ``JobSpec`` message, or a mapping in the platform guide's JSON shape."""

_GPU_TYPE_PREFIX = "GPU_TYPE_"


def job_spec(spec: JobSpecLike) -> job_pb2.JobSpec:
    """A ``JobSpec`` from a message (copied) or from the guide's JSON shape::

        {"job_name": "molecular_dynamics_001",
         "resource_spec": {"nodes": 4, "cpus_per_node": 32, "gpus_per_node": 2,
                           "memory_gb": 256, "gpu_type": "A100"},
         "command": "mpirun -np 128 ./lammps_simulation",
         "timeout": 86400,
         "dependencies": ["dataset_20230801"],
         "environment": {"OMP_NUM_THREADS": "32"},
         "labels": {"project": "md"}}

    ``gpu_type`` may be a model (``"A100"``, ``"H100"``) or an enum name
    (``"GPU_TYPE_A100"``). Only the shape is checked here: whether the values are
    acceptable (ranges, quotas, partitions) is for the server to say.

    Raises:
        ValueError: if the mapping does not have the shape of a JobSpec (an unknown
            field, a list where a number belongs, ...); the message names the field.
        TypeError: if ``spec`` is neither a ``JobSpec`` nor a mapping.
    """
    if isinstance(spec, job_pb2.JobSpec):
        copy = job_pb2.JobSpec()
        copy.CopyFrom(spec)
        return copy
    if not isinstance(spec, Mapping):
        raise TypeError(f"a job spec is a JobSpec or a mapping, not {type(spec).__name__}")
    try:
        return json_format.ParseDict(_with_gpu_type_names(spec), job_pb2.JobSpec())
    except json_format.ParseError as err:
        raise ValueError(f"invalid job spec: {err}") from err


def _with_gpu_type_names(spec: Mapping[str, Any]) -> dict[str, Any]:
    body = dict(spec)
    for key in ("resource_spec", "resourceSpec"):
        if key not in body or body[key] is None:
            continue
        # ParseDict would read a list here as an empty ResourceSpec instead of refusing it.
        if not isinstance(body[key], Mapping):
            raise ValueError(
                f"invalid job spec: {key} must be an object, not {type(body[key]).__name__}"
            )
        resources = body[key] = dict(body[key])
        for gpu_key in ("gpu_type", "gpuType"):
            gpu_type = resources.get(gpu_key)
            if isinstance(gpu_type, str):
                name = gpu_type.upper()
                resources[gpu_key] = (
                    name if name.startswith(_GPU_TYPE_PREFIX) else (_GPU_TYPE_PREFIX + name)
                )
    return body
