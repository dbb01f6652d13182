"""The five API services and how each is put on a server.

A service whose servicer is not written yet is registered with its generated base class, whose
methods raise ``NotImplementedError``; the error interceptor answers those ``UNIMPLEMENTED`` with
the method's name, so the whole contract is visible through reflection from the first release.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc.aio
from google.protobuf.descriptor import FileDescriptor

from deepseek.hpc.v1 import (
    account_pb2,
    account_pb2_grpc,
    audit_pb2,
    audit_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    data_pb2,
    data_pb2_grpc,
    job_pb2,
    job_pb2_grpc,
)


@dataclass(frozen=True, slots=True)
class ApiService:
    """One gRPC service of the contract: its descriptor and how to add a servicer for it."""

    name: str
    file: FileDescriptor
    add_to_server: Callable[[Any, grpc.aio.Server], None]
    unimplemented: Callable[[], object]

    @property
    def full_name(self) -> str:
        """The service's fully qualified name, e.g. ``deepseek.hpc.v1.JobService``."""
        return str(self.file.services_by_name[self.name].full_name)


API_SERVICES: tuple[ApiService, ...] = (
    ApiService(
        "AuthService",
        auth_pb2.DESCRIPTOR,
        auth_pb2_grpc.add_AuthServiceServicer_to_server,
        auth_pb2_grpc.AuthServiceServicer,
    ),
    ApiService(
        "JobService",
        job_pb2.DESCRIPTOR,
        job_pb2_grpc.add_JobServiceServicer_to_server,
        job_pb2_grpc.JobServiceServicer,
    ),
    ApiService(
        "DataChunkService",
        data_pb2.DESCRIPTOR,
        data_pb2_grpc.add_DataChunkServiceServicer_to_server,
        data_pb2_grpc.DataChunkServiceServicer,
    ),
    ApiService(
        "AuditService",
        audit_pb2.DESCRIPTOR,
        audit_pb2_grpc.add_AuditServiceServicer_to_server,
        audit_pb2_grpc.AuditServiceServicer,
    ),
    ApiService(
        "AccountService",
        account_pb2.DESCRIPTOR,
        account_pb2_grpc.add_AccountServiceServicer_to_server,
        account_pb2_grpc.AccountServiceServicer,
    ),
)


def register_services(server: grpc.aio.Server, servicers: dict[str, object]) -> list[str]:
    """Add every API service to ``server``, using ``servicers[name]`` where one is given.

    Returns the full names of the services, for health and reflection.
    """
    unknown = set(servicers) - {service.name for service in API_SERVICES}
    if unknown:
        raise ValueError(f"no such API service: {', '.join(sorted(unknown))}")
    for service in API_SERVICES:
        service.add_to_server(servicers.get(service.name) or service.unimplemented(), server)
    return [service.full_name for service in API_SERVICES]
