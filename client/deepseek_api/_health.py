"""The standard grpc.health.v1 check, shared by both clients."""

from __future__ import annotations

from typing import Any

from grpc_health.v1 import health_pb2, health_pb2_grpc

HealthStub = health_pb2_grpc.HealthStub


def health_check_request(service: str) -> Any:
    """A ``HealthCheckRequest`` for ``service`` ("" asks about the server as a whole)."""
    return health_pb2.HealthCheckRequest(service=service)


def serving_status(response: Any) -> str:
    """The name of a ``HealthCheckResponse``'s status, e.g. ``"SERVING"``."""
    status: int = response.status
    try:
        name: str = health_pb2.HealthCheckResponse.ServingStatus.Name(status)
    except ValueError:
        return str(status)
    return name
