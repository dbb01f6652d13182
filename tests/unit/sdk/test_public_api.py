"""The names ``deepseek_api`` exports are a contract: change them deliberately."""

from __future__ import annotations

import deepseek_api as ds

EXPORTED = [
    "APIException",
    "Aborted",
    "AlreadyExists",
    "Amount",
    "AsyncDeepSeekClient",
    "AsyncJob",
    "Cancelled",
    "Capabilities",
    "ChannelOptions",
    "ClientError",
    "DataLoss",
    "DeadlineExceeded",
    "DeepSeekClient",
    "FailedPrecondition",
    "FieldViolation",
    "Internal",
    "InvalidArgument",
    "Job",
    "JobEvent",
    "NotFound",
    "OutOfRange",
    "Partition",
    "PermissionDenied",
    "QuotaViolation",
    "ResourceExhausted",
    "ResourceUsage",
    "ServerError",
    "TlsConfig",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "Unknown",
    "__version__",
    "from_rpc_error",
]


def test_exported_names_are_pinned() -> None:
    assert ds.__all__ == EXPORTED


def test_every_public_name_is_exported() -> None:
    public = [name for name in vars(ds) if not name.startswith("_") or name == "__version__"]

    assert sorted(public) == sorted(ds.__all__)


def test_exported_classes_belong_to_the_package() -> None:
    for name in ds.__all__:
        member = getattr(ds, name)
        if isinstance(member, type):
            assert member.__module__ == "deepseek_api", name
