"""Stable action names: one per RPC of the API, and the gateway's own actions.

An action is ``<resource>.<verb>`` in lower case. Names are part of what operators filter on and
keep in archives, so a method keeps its name for good; a unit test checks that every RPC of every
service of the contract is here. Health and reflection are not audited: they act on nothing and
are polled by load balancers and tools many times a second.
"""

from __future__ import annotations

_PACKAGE = "deepseek.hpc.v1"

_BY_SERVICE: dict[str, dict[str, str]] = {
    "AuthService": {
        "IssueToken": "auth.issue_token",
        "GetJwks": "auth.get_jwks",
    },
    "JobService": {
        "CreateJob": "job.create",
        "BatchCreateJobs": "job.batch_create",
        "SubmitJob": "job.submit",
        "GetJob": "job.get",
        "ListJobs": "job.list",
        "CancelJob": "job.cancel",
        "WatchJobs": "job.watch",
        "ReadJobLogs": "job.read_logs",
        "GetCapabilities": "job.get_capabilities",
    },
    "DataChunkService": {
        "Upload": "upload.write",
        "GetUploadStatus": "upload.get_status",
        "CancelUpload": "upload.cancel",
        "Download": "file.download",
        "ListFiles": "file.list",
        "CreateDataset": "dataset.create",
        "GetDataset": "dataset.get",
        "ListDatasets": "dataset.list",
        "SealDataset": "dataset.seal",
        "DeleteDataset": "dataset.delete",
    },
    "AuditService": {
        "ListAuditRecords": "audit.list",
        "WatchAuditRecords": "audit.watch",
        "VerifyAuditChain": "audit.verify",
        "ListAuditCheckpoints": "audit.list_checkpoints",
    },
    "AccountService": {
        "GetQuota": "quota.get",
        "UpdateQuota": "quota.update",
        "GetUsage": "usage.get",
        "EstimateJobCost": "job.estimate_cost",
        "WatchQuotaAlerts": "quota.watch_alerts",
    },
}

ACTIONS: dict[str, str] = {
    f"/{_PACKAGE}.{service}/{method}": action
    for service, methods in _BY_SERVICE.items()
    for method, action in methods.items()
}
"""Full gRPC method name -> action name."""

JOB_STATE_CHANGE = "job.state_change"
"""A job moved from one state to another (a system action)."""

UPLOAD_EXPIRE = "upload.expire"
"""An abandoned upload expired (a system action)."""


def action_of(method: str) -> str | None:
    """The action of a full method name; ``None`` for what is not audited (health, reflection).

    A method of the API missing from the table (a new RPC) is still audited, under a name made
    from its service and method, so that nothing goes unrecorded while the table catches up.
    """
    action = ACTIONS.get(method)
    if action is not None or not method.startswith(f"/{_PACKAGE}."):
        return action
    service, _, name = method[len(_PACKAGE) + 2 :].partition("/")
    return f"{service.removesuffix('Service').lower()}.{_snake(name)}"


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
