"""What the executor behind the gateway can run (JobService.GetCapabilities)."""

from __future__ import annotations

from dataclasses import dataclass

from deepseek.hpc.v1 import common_pb2, job_pb2
from deepseek_api import _protos


@dataclass(frozen=True, slots=True)
class Partition:
    """A partition (queue) of the executor: a class of identical nodes.

    Attributes:
        name: Partition name, e.g. ``"gpu"`` or ``"cpu"``.
        max_nodes: Most nodes one job can get here.
        cpus_per_node: CPU cores per node.
        memory_gb_per_node: Memory per node in GiB.
        gpus_per_node: GPUs per node; 0 for a CPU-only partition.
        gpu_types: GPU models available, e.g. ``("A100", "H100")``; the first is the
            default for a spec without ``gpu_type``. Empty for a CPU-only partition.
        max_timeout_seconds: Longest ``timeout`` a job may ask for here.
    """

    name: str
    max_nodes: int
    cpus_per_node: int
    memory_gb_per_node: int
    gpus_per_node: int
    gpu_types: tuple[str, ...]
    max_timeout_seconds: int

    @classmethod
    def from_proto(cls, partition: job_pb2.Partition) -> Partition:
        """Read a ``deepseek.hpc.v1.Partition``."""
        return cls(
            name=partition.name,
            max_nodes=partition.max_nodes,
            cpus_per_node=partition.cpus_per_node,
            memory_gb_per_node=partition.memory_gb_per_node,
            gpus_per_node=partition.gpus_per_node,
            gpu_types=tuple(
                _protos.enum_name(common_pb2.GpuType.DESCRIPTOR, gpu_type, "GPU_TYPE_")
                for gpu_type in partition.gpu_types
            ),
            max_timeout_seconds=partition.max_timeout_seconds,
        )


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the executor can ever run; a spec that fits no partition is refused.

    Attributes:
        executor: Executor name, e.g. ``"local"`` or ``"slurm"``.
        partitions: The partitions; a job spec must fit at least one.
    """

    executor: str
    partitions: tuple[Partition, ...]

    @classmethod
    def from_proto(cls, response: job_pb2.GetCapabilitiesResponse) -> Capabilities:
        """Read a ``GetCapabilitiesResponse``."""
        return cls(
            executor=response.executor,
            partitions=tuple(Partition.from_proto(p) for p in response.partitions),
        )
