"""The names ``deepseek_api`` exports are a contract: change them deliberately."""

from __future__ import annotations

import inspect

import deepseek_api as ds

EXPORTED = [
    "APIException",
    "Aborted",
    "AlreadyExists",
    "Amount",
    "AsyncDeepSeekClient",
    "AsyncJob",
    "AsyncMLTask",
    "AuditChainVerification",
    "AuditRecord",
    "Cancelled",
    "Capabilities",
    "ChannelOptions",
    "ClientError",
    "CostEstimate",
    "DataLoss",
    "Dataset",
    "DeadlineExceeded",
    "DeepSeekClient",
    "FailedPrecondition",
    "FieldViolation",
    "FileInfo",
    "Internal",
    "InvalidArgument",
    "Job",
    "JobEvent",
    "MLTask",
    "NotFound",
    "OutOfRange",
    "Partition",
    "PermissionDenied",
    "Quota",
    "QuotaAlert",
    "QuotaLimit",
    "QuotaViolation",
    "RateLimitConfig",
    "ResourceExhausted",
    "ResourceUsage",
    "RetryConfig",
    "ServerError",
    "TaskMetrics",
    "TlsConfig",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "Unknown",
    "UploadStatus",
    "Usage",
    "UsageLine",
    "__version__",
    "from_rpc_error",
]


def test_exported_names_are_pinned() -> None:
    assert ds.__all__ == EXPORTED


def test_every_public_name_is_exported() -> None:
    # Subpackages (deepseek_api.cli) become attributes once imported; they are not exports.
    public = [
        name
        for name, value in vars(ds).items()
        if (not name.startswith("_") or name == "__version__") and not inspect.ismodule(value)
    ]

    assert sorted(public) == sorted(ds.__all__)


def test_exported_classes_belong_to_the_package() -> None:
    for name in ds.__all__:
        member = getattr(ds, name)
        if isinstance(member, type):
            assert member.__module__ == "deepseek_api", name


# The client methods users call: the platform guide's, and the SDK's beyond them.
CLIENT_METHODS = [
    "batch_create_jobs",
    "cancel_job",
    "cancel_upload",
    "check_health",
    "close",
    "create_dataset",
    "create_job",
    "create_ml_task",
    "delete_dataset",
    "download_file",
    "download_results",
    "estimate_job_cost",
    "get_capabilities",
    "get_dataset",
    "get_job",
    "get_quota",
    "get_upload_status",
    "get_usage",
    "list_audit_records",
    "list_datasets",
    "list_files",
    "list_jobs",
    "read_logs",
    "seal_dataset",
    "submit_job",
    "upload_file",
    "upload_input_files",
    "upload_to_dataset",
    "verify_audit_chain",
    "watch_audit_records",
    "watch_jobs",
    "watch_quota_alerts",
]
# Methods returning an iterator rather than a result: plain functions in both clients.
ITERATOR_METHODS = {
    "list_audit_records",
    "list_datasets",
    "list_files",
    "list_jobs",
    "read_logs",
    "watch_audit_records",
    "watch_jobs",
    "watch_quota_alerts",
}


def public_methods(cls: type) -> list[str]:
    return sorted(
        name for name in dir(cls) if not name.startswith("_") and callable(getattr(cls, name))
    )


def test_both_clients_offer_the_pinned_methods() -> None:
    assert public_methods(ds.DeepSeekClient) == CLIENT_METHODS
    assert public_methods(ds.AsyncDeepSeekClient) == sorted([*CLIENT_METHODS, "aclose"])


def test_async_methods_are_coroutines_with_the_sync_parameters() -> None:
    for name in CLIENT_METHODS:
        sync_method = getattr(ds.DeepSeekClient, name)
        async_method = getattr(ds.AsyncDeepSeekClient, name)
        assert inspect.iscoroutinefunction(async_method) == (name not in ITERATOR_METHODS), name
        assert list(inspect.signature(sync_method).parameters) == list(
            inspect.signature(async_method).parameters
        ), name


def test_the_guide_surface_keeps_its_parameter_names() -> None:
    def parameters(method: object) -> list[str]:
        return list(inspect.signature(method).parameters)  # type: ignore[arg-type]

    assert parameters(ds.DeepSeekClient.__init__)[1:3] == ["endpoint", "credentials"]
    assert parameters(ds.DeepSeekClient.create_ml_task)[1:4] == ["framework", "nodes", "command"]
    assert parameters(ds.DeepSeekClient.upload_input_files)[1:3] == ["job_id", "paths"]
    assert parameters(ds.DeepSeekClient.download_results)[1:3] == ["job_id", "local_dir"]
    assert parameters(ds.MLTask.wait_for_completion) == ["self", "timeout"]
    assert parameters(ds.MLTask.get_metrics) == ["self"]
    assert issubclass(ds.MLTask, ds.Job)
    assert issubclass(ds.AsyncMLTask, ds.AsyncJob)
