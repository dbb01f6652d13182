"""OAuth2 scopes and the scope each RPC requires.

The table is keyed by full gRPC method name and written out by hand, so that adding an RPC
without deciding its scope fails the test that compares this table with the contract.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

COMPUTE_READ = "compute:read"
COMPUTE_WRITE = "compute:write"
AUDIT_READ = "audit:read"
ADMIN = "admin"

ALL_SCOPES: frozenset[str] = frozenset({COMPUTE_READ, COMPUTE_WRITE, AUDIT_READ, ADMIN})
"""Every scope a client may be granted."""

_API = "/deepseek.hpc.v1."

METHOD_SCOPES: Mapping[str, str | None] = {
    # None: callable without a token.
    f"{_API}AuthService/IssueToken": None,
    f"{_API}AuthService/GetJwks": None,
    f"{_API}JobService/CreateJob": COMPUTE_WRITE,
    f"{_API}JobService/BatchCreateJobs": COMPUTE_WRITE,
    f"{_API}JobService/SubmitJob": COMPUTE_WRITE,
    f"{_API}JobService/GetJob": COMPUTE_READ,
    f"{_API}JobService/ListJobs": COMPUTE_READ,
    f"{_API}JobService/CancelJob": COMPUTE_WRITE,
    f"{_API}JobService/WatchJobs": COMPUTE_READ,
    f"{_API}JobService/ReadJobLogs": COMPUTE_READ,
    f"{_API}JobService/GetCapabilities": COMPUTE_READ,
    f"{_API}DataChunkService/Upload": COMPUTE_WRITE,
    f"{_API}DataChunkService/GetUploadStatus": COMPUTE_READ,
    f"{_API}DataChunkService/CancelUpload": COMPUTE_WRITE,
    f"{_API}DataChunkService/Download": COMPUTE_READ,
    f"{_API}DataChunkService/ListFiles": COMPUTE_READ,
    f"{_API}DataChunkService/CreateDataset": COMPUTE_WRITE,
    f"{_API}DataChunkService/GetDataset": COMPUTE_READ,
    f"{_API}DataChunkService/ListDatasets": COMPUTE_READ,
    f"{_API}DataChunkService/SealDataset": COMPUTE_WRITE,
    f"{_API}DataChunkService/DeleteDataset": COMPUTE_WRITE,
    f"{_API}AuditService/ListAuditRecords": COMPUTE_READ,
    f"{_API}AuditService/WatchAuditRecords": COMPUTE_READ,
    f"{_API}AuditService/VerifyAuditChain": ADMIN,
    f"{_API}AuditService/ListAuditCheckpoints": COMPUTE_READ,
    f"{_API}AccountService/GetQuota": COMPUTE_READ,
    f"{_API}AccountService/UpdateQuota": ADMIN,
    f"{_API}AccountService/GetUsage": COMPUTE_READ,
    f"{_API}AccountService/EstimateJobCost": COMPUTE_READ,
    f"{_API}AccountService/WatchQuotaAlerts": COMPUTE_READ,
}
"""The scope each API method requires; ``None`` for the methods callable without a token."""

PUBLIC_SERVICES: tuple[str, ...] = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)
"""Method prefixes of the standard services that need no token (health checks, grpcurl)."""

UNLISTED_METHOD_SCOPE = ADMIN
"""What a method outside the API (a service added by an operator, a test) requires: deny by
default to everyone but administrators."""


def required_scope(method: str) -> str | None:
    """The scope ``method`` requires, or ``None`` when it needs no token at all."""
    if method in METHOD_SCOPES:
        return METHOD_SCOPES[method]
    if method.startswith(PUBLIC_SERVICES):
        return None
    return UNLISTED_METHOD_SCOPE


def parse_scopes(text: str | Iterable[str]) -> frozenset[str]:
    """Scopes from a space-separated string (or an iterable of them); unknown names raise."""
    words = text.split() if isinstance(text, str) else [w for item in text for w in item.split()]
    unknown = sorted(set(words) - ALL_SCOPES)
    if unknown:
        raise ValueError(
            f"unknown scope {unknown[0]!r}; scopes are {', '.join(sorted(ALL_SCOPES))}"
        )
    return frozenset(words)


def format_scopes(scopes: Iterable[str]) -> str:
    """Scopes as the space-separated, sorted string that tokens and responses carry."""
    return " ".join(sorted(scopes))
